package extract

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
)

// Mirror mode lists a target through its Source (list.go). Against scripted servers, the
// ways a provider's listing goes wrong must end in an error (mirror mode then removes
// nothing), never in an endless loop or a wrong list.

// scriptedSCIM is a SCIM Source whose /Users answers come from h; other paths are 404
// (no discovery documents, no groups), and any request that is not a GET is counted.
func scriptedSCIM(t *testing.T, h http.HandlerFunc) (*SCIM, *atomic.Int32) {
	t.Helper()
	var other atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/Users"):
			h(w, r)
		case r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/Groups"):
			http.NotFound(w, r)
		default:
			other.Add(1)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	s, err := newSCIM(mustEndpoint(t, "scim+"+ts.URL+"/v2"), core.Options{Getenv: envOf(map[string]string{"SCIM_TOKEN": "tok"})},
		netHooks{sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s, &other
}

func scimPage(w http.ResponseWriter, total int, users []string, next string) {
	res := make([]map[string]any, len(users))
	for i, u := range users {
		res[i] = map[string]any{"id": "id-" + u, "userName": u}
		if strings.HasPrefix(u, "off") {
			res[i]["active"] = "False" // a provider that sends the boolean as a string
		}
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		"totalResults": total, "Resources": res}
	if next != "" {
		body["nextCursor"] = next
	}
	w.Header().Set("Content-Type", "application/scim+json")
	_ = json.NewEncoder(w).Encode(body)
}

func listTarget(t *testing.T, l core.Lister) ([]core.TargetUser, error) {
	t.Helper()
	var out []core.TargetUser
	err := l.ListUsers(context.Background(), func(u core.TargetUser) error {
		out = append(out, u)
		return nil
	})
	return out, err
}

func TestSCIMListUsers(t *testing.T) {
	names := func(from, n int) []string {
		var out []string
		for i := from; i < from+n; i++ {
			out = append(out, fmt.Sprintf("u%03d", i))
		}
		return out
	}
	tests := []struct {
		name    string
		h       http.HandlerFunc
		want    int
		wantErr string
	}{
		{"index paging", func(w http.ResponseWriter, r *http.Request) {
			start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
			if r.URL.Query().Get("attributes") != "userName,active" {
				t.Errorf("attributes=%q", r.URL.Query().Get("attributes"))
			}
			scimPage(w, 250, names(start-1, min(100, 250-(start-1))), "")
		}, 250, ""},
		{"count capped below the request", func(w http.ResponseWriter, r *http.Request) {
			start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
			scimPage(w, 95, names(start-1, min(10, 95-(start-1))), "")
		}, 95, ""},
		{"no totalResults, short last page", func(w http.ResponseWriter, r *http.Request) {
			start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
			n := min(100, 130-(start-1))
			res := make([]map[string]any, n)
			for i := range res {
				res[i] = map[string]any{"id": fmt.Sprint(start + i), "userName": fmt.Sprint("n", start+i)}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"Resources": res})
		}, 130, ""},
		{"cursor after the first page", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Query().Get("cursor") {
			case "":
				scimPage(w, 30, names(0, 10), "c1")
			case "c1":
				scimPage(w, 30, names(10, 10), "c2")
			case "c2":
				scimPage(w, 30, names(20, 10), "")
			}
		}, 30, ""},
		{"cursor loop", func(w http.ResponseWriter, r *http.Request) {
			scimPage(w, 30, names(len(r.URL.Query().Get("cursor")), 1), "same")
		}, 0, "came back twice"},
		{"paging ignored", func(w http.ResponseWriter, r *http.Request) {
			scimPage(w, 1000, names(0, 100), "")
		}, 0, "only users already read"},
		{"error part way", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("startIndex") != "1" {
				http.Error(w, `{"status":"400","detail":"bad"}`, http.StatusBadRequest)
				return
			}
			scimPage(w, 300, names(0, 100), "")
		}, 0, "at 101"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := scriptedSCIM(t, tc.h)
			got, err := listTarget(t, s)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("listed %d, want %d", len(got), tc.want)
			}
		})
	}
}

// TestSCIMListInactive: active=false, also sent as a string, marks a user inactive, and
// listing reads no groups and writes nothing.
func TestSCIMListInactive(t *testing.T) {
	s, other := scriptedSCIM(t, func(w http.ResponseWriter, r *http.Request) {
		scimPage(w, 3, []string{"keep", "gone", "offgone"}, "")
	})
	got, err := listTarget(t, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []core.TargetUser{{ID: "id-keep", UserName: "keep"}, {ID: "id-gone", UserName: "gone"}, {ID: "id-offgone", UserName: "offgone", Inactive: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %+v, want %+v", got, want)
	}
	if other.Load() != 0 {
		t.Errorf("%d requests other than reading users", other.Load())
	}
}

// TestAuth0ListNeedsConnection: without ?connection= the listing would hold every user of
// the tenant, social and enterprise ones too; it is refused before any request.
func TestAuth0ListNeedsConnection(t *testing.T) {
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	t.Cleanup(ts.Close)
	a, err := newAuth0(mustEndpoint(t, "auth0://t.example?base="+ts.URL), core.Options{Getenv: envOf(map[string]string{"AUTH0_TOKEN": "tok"})}, netHooks{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listTarget(t, a); !errors.Is(err, core.ErrUsage) || requests.Load() != 0 {
		t.Errorf("err %v after %d requests, want a usage error before any", err, requests.Load())
	}
}

// fuzzLists answers every request with the current fuzz body; one per test process.
var fuzzLists struct {
	once sync.Once
	url  string
	body atomic.Pointer[[]byte]
}

func fuzzListURL() string {
	fuzzLists.once.Do(func() {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/Users") && !strings.HasSuffix(r.URL.Path, "/users/export") &&
				!strings.HasSuffix(r.URL.Path, "/identity/token") {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if strings.HasSuffix(r.URL.Path, "/identity/token") {
				_, _ = w.Write([]byte(`{"access_token":"t","expires_in":3600}`))
				return
			}
			if b := fuzzLists.body.Load(); b != nil {
				_, _ = w.Write(*b)
			}
		}))
		fuzzLists.url = ts.URL // lives as long as the process: fuzz workers reuse it
	})
	return fuzzLists.url
}

// FuzzListUsersAnswers feeds the SCIM and App ID listings arbitrary list answers, the same
// one for every page: they must end (an error, the end of the list, or the reader
// stopping), and never panic.
func FuzzListUsersAnswers(f *testing.F) {
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
		fuzzLists.body.Store(&body)
		base := fuzzListURL()
		nosleep := netHooks{sleep: func(context.Context, time.Duration) error { return nil }}
		// A listing may be as long as the total a page claims (100,000 users without
		// ids is bounded, and such users are never removed): stop reading after 50, which at
		// one user a page is already 50 requests.
		errEnough := errors.New("enough")
		check := func(name string, l core.Lister) {
			n := 0
			err := l.ListUsers(context.Background(), func(u core.TargetUser) error {
				if n++; n > 50 {
					return errEnough
				}
				return nil
			})
			if err != nil && !errors.Is(err, errEnough) && strings.Contains(err.Error(), "\n") {
				t.Fatalf("%s: error of more than one line: %q", name, err)
			}
		}
		s, err := newSCIM(mustEndpoint(t, "scim+"+base+"/v2"), core.Options{}, nosleep)
		if err != nil {
			t.Fatal(err)
		}
		check("scim", s)
		a, err := newAppID(mustEndpoint(t, "appid://us-south/t1?base="+url.QueryEscape(base)+"&iam="+url.QueryEscape(base)),
			core.Options{Getenv: envOf(map[string]string{"IBMCLOUD_API_KEY": "k"})}, nosleep)
		if err != nil {
			t.Fatal(err)
		}
		check("appid", a)
	})
}
