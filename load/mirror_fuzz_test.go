package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// fuzzServer answers every request with the current fuzz body; one per test process.
var fuzzServer struct {
	once sync.Once
	url  string
	body atomic.Pointer[[]byte]
}

func fuzzURL() string {
	fuzzServer.once.Do(func() {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig") || strings.HasSuffix(r.URL.Path, "/Schemas") {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if b := fuzzServer.body.Load(); b != nil {
				_, _ = w.Write(*b)
			}
		}))
		fuzzServer.url = ts.URL // lives as long as the process: fuzz workers reuse it
	})
	return fuzzServer.url
}

// FuzzMirrorListAnswers feeds the SCIM and App ID listers arbitrary list answers, the same
// one for every page: they must end (an error or the end of the list), never loop or
// panic, and never hand mirror mode a user it could not address.
func FuzzMirrorListAnswers(f *testing.F) {
	for _, s := range []string{
		`{"totalResults":3,"Resources":[{"id":"1","userName":"a"},{"id":"2","userName":"b","active":false},{"id":3,"userName":"c","active":"false"}]}`,
		`{"totalResults":100000,"Resources":[{"id":"1","userName":"a"}]}`,
		`{"totalResults":100000,"Resources":[{"userName":"no id"}]}`,
		`{"Resources":[{"id":"1"}],"nextCursor":"n"}`,
		`{"Resources":null,"totalResults":-5}`,
		`{"totalResults":120,"users":[{"id":"p1","email":"a@x"},{"id":"p2"}]}`,
		`{"users":[{"id":"p1","email":"a@x"}],"totalResults":1e9}`,
		`[]`, `null`, `{"Resources":{}}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzServer.body.Store(&body)
		base := fuzzURL()
		ctx := context.Background()
		check := func(name string, l core.Lister) {
			n := 0
			err := l.ListUsers(ctx, func(u core.TargetUser) error {
				n++
				if n > 10_000 {
					t.Fatalf("%s: listing does not end", name)
				}
				return nil
			})
			_ = err
		}
		c, err := httpx.New(httpx.Config{Name: "scim", BaseURL: base + "/v2", MediaType: scimMediaType,
			Limiter: httpx.NewLimiter(rate.Inf, 1), MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSCIM(ctx, c, core.Options{})
		if err != nil {
			t.Fatal(err)
		}
		check("scim", s)
		a, err := httpx.New(httpx.Config{Name: "appid", BaseURL: base, Limiter: httpx.NewLimiter(rate.Inf, 1), MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		check("appid", NewAppID(a, false, "", core.Options{}))

		// Through Mirror: whatever the answers, nothing without an id is a candidate.
		rep, _ := Mirror(ctx, s, keepOf("someone"), MirrorConfig{DryRun: true})
		for _, u := range rep.Users {
			if u.ID == "" || u.UserName == "" {
				t.Fatalf("candidate without id or name: %+v", u)
			}
		}
	})
}

// FuzzKeepSetFold: two keys match exactly when strings.EqualFold says they are equal
// (valid UTF-8), and invalid UTF-8 only matches itself byte for byte (case aside).
func FuzzKeepSetFold(f *testing.F) {
	for _, p := range [][2]string{
		{"Alice@Example.com", "alice@example.COM"}, {"KELVIN", "\u212aelvin"}, {"ß", "ẞ"},
		{"ǅ", "ǆ"}, {"σ", "ς"}, {"a\xff", "A\xff"}, {"a\xff", "a\ufffd"}, {"", ""}, {"x", "y"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		k := keepOf(a)
		got := k.Has(b)
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			if a == b && a != "" && !got {
				t.Fatalf("%q does not match itself", a)
			}
			return
		}
		want := a != "" && b != "" && strings.EqualFold(a, b)
		if got != want {
			t.Fatalf("Has(%q) after Add(%q) = %v, EqualFold says %v", b, a, got, want)
		}
	})
}
