package gen

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/jsonw"
	"github.com/segmentio/encoding/json"
)

type auth0User struct {
	UserID        string          `json:"user_id"`
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	LastLogin     string          `json:"last_login"`
	Name          string          `json:"name"`
	Nickname      string          `json:"nickname"`
	Picture       string          `json:"picture"`
	Identities    []struct {
		Connection  string          `json:"connection"`
		Provider    string          `json:"provider"`
		UserID      json.RawMessage `json:"user_id"`
		IsSocial    bool            `json:"isSocial"`
		ProfileData json.RawMessage `json:"profileData"`
	} `json:"identities"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
}

var generators = []struct {
	name string
	f    AppendFunc
}{{"auth0", AppendAuth0}, {"appid", AppendAppID}, {"scim", AppendSCIM}}

func TestRecordsAreValidJSONAndDeterministic(t *testing.T) {
	for _, g := range generators {
		for _, nasty := range []float64{0, 0.3, 1} {
			opt := Options{Nasty: nasty}
			for i := 0; i < 2000; i++ {
				a := g.f(nil, 42, i, opt)
				if !json.Valid(a) || !utf8.Valid(a) {
					t.Fatalf("%s nasty=%v user %d: invalid JSON: %s", g.name, nasty, i, a)
				}
				if b := g.f(make([]byte, 0, 10), 42, i, opt); !bytes.Equal(a, b) {
					t.Fatalf("%s user %d: not deterministic", g.name, i)
				}
				if c := g.f(nil, 43, i, opt); bytes.Equal(a, c) {
					t.Fatalf("%s user %d: seed does not change the record", g.name, i)
				}
			}
		}
	}
}

func TestIteratorAndWriterMatchSingleUser(t *testing.T) {
	opt := Options{Nasty: 0.2}
	const n = 3*chunkUsers + 17 // several chunks and a partial one
	var want bytes.Buffer
	count := 0
	for i, u := range Auth0Users(7, n, opt) {
		if !bytes.Equal(u, Auth0(7, i, opt)) {
			t.Fatalf("iterator user %d differs from Auth0(seed, %d)", i, i)
		}
		want.Write(u)
		want.WriteByte('\n')
		count++
	}
	if count != n {
		t.Fatalf("iterator yielded %d users, want %d", count, n)
	}
	var got bytes.Buffer
	if err := WriteNDJSON(&got, AppendAuth0, 7, n, opt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("WriteNDJSON output differs from the sequential users")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	if f.n > 1 {
		return 0, bytes.ErrTooLarge
	}
	return len(p), nil
}

func TestWriteNDJSONReportsWriteErrors(t *testing.T) {
	err := WriteNDJSON(&failWriter{}, AppendSCIM, 1, 20*chunkUsers, Options{})
	if err == nil || !strings.Contains(err.Error(), "gen: write") {
		t.Fatalf("err = %v, want a wrapped write error", err)
	}
}

func TestAuth0Shape(t *testing.T) {
	const n = 20000
	ids := map[string]bool{}
	emails := map[string]bool{}
	var prev time.Time
	var linked, social, blocked int
	for i := 0; i < n; i++ {
		var u auth0User
		if err := json.Unmarshal(Auth0(1, i, Options{}), &u); err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		if ids[u.UserID] || emails[u.Email] {
			t.Fatalf("user %d: duplicate id %q or email %q", i, u.UserID, u.Email)
		}
		ids[u.UserID], emails[u.Email] = true, true
		c, err := time.Parse("2006-01-02T15:04:05.000Z", u.CreatedAt)
		if err != nil {
			t.Fatalf("user %d created_at: %v", i, err)
		}
		if !c.After(prev) {
			t.Fatalf("user %d: created_at %s not after %s", i, c, prev)
		}
		if c.UnixMilli() != CreatedAt(1, i) {
			t.Fatalf("user %d: CreatedAt disagrees with the record", i)
		}
		prev = c
		if u.UpdatedAt < u.CreatedAt || u.LastLogin < u.CreatedAt || u.LastLogin > u.UpdatedAt {
			t.Fatalf("user %d: times out of order: %s %s %s", i, u.CreatedAt, u.LastLogin, u.UpdatedAt)
		}
		if len(u.Identities) == 0 {
			t.Fatalf("user %d: no identities", i)
		}
		id0 := u.Identities[0]
		var idStr string
		_ = json.Unmarshal(id0.UserID, &idStr)
		if u.UserID != id0.Provider+"|"+idStr {
			t.Fatalf("user %d: user_id %q does not match identities[0] %s|%s", i, u.UserID, id0.Provider, idStr)
		}
		if id0.Provider == "auth0" && len(idStr) != 24 {
			t.Fatalf("user %d: auth0 id %q is not 24 hex digits", i, idStr)
		}
		if len(u.Identities) > 1 {
			linked++
			if len(u.Identities[1].ProfileData) == 0 {
				t.Fatalf("user %d: secondary identity without profileData", i)
			}
		}
		if id0.IsSocial {
			social++
		}
		if !strings.HasPrefix(u.Picture, "https://") || u.Name == "" || u.Nickname == "" {
			t.Fatalf("user %d: missing picture/name/nickname", i)
		}
		if bytes.Contains(Auth0(1, i, Options{}), []byte(`"blocked":true`)) {
			blocked++
		}
		if string(u.EmailVerified) == `"true"` {
			t.Fatalf("user %d: string email_verified in a clean record", i)
		}
	}
	for name, got := range map[string]int{"linked": linked, "social": social, "blocked": blocked} {
		if got == 0 || got > n/2 {
			t.Errorf("%s users: %d of %d", name, got, n)
		}
	}
}

// TestNastyTraits checks that Nasty=1 produces every awkward trait and Nasty=0 none.
func TestNastyTraits(t *testing.T) {
	checks := map[string]func(raw []byte, u *auth0User) bool{
		"dotted key":      func(raw []byte, _ *auth0User) bool { return bytes.Contains(raw, []byte(`"preference.color"`)) },
		"dollar key":      func(raw []byte, _ *auth0User) bool { return bytes.Contains(raw, []byte(`"$`)) },
		"string bool":     func(_ []byte, u *auth0User) bool { return string(u.EmailVerified) == `"true"` },
		"numeric id":      func(_ []byte, u *auth0User) bool { return u.Identities[0].UserID[0] != '"' },
		"profile > 10 KB": func(raw []byte, _ *auth0User) bool { return len(raw) > 10*1024 },
		"string > 256": func(_ []byte, u *auth0User) bool {
			s, _ := u.UserMetadata["bio"].(string)
			return len(s) > 256
		},
		"age as string": func(_ []byte, u *auth0User) bool { _, ok := u.UserMetadata["age"].(string); return ok },
		"reserved key": func(_ []byte, u *auth0User) bool {
			for _, k := range []string{"email", "user_id", "blocked", "created_at"} {
				if _, ok := u.AppMetadata[k]; ok {
					return true
				}
			}
			return false
		},
		"luhn card": func(_ []byte, u *auth0User) bool {
			p, _ := u.AppMetadata["payment"].(map[string]any)
			s, _ := p["card"].(string)
			return s != "" && luhnValid(s)
		},
		"date key":  func(raw []byte, _ *auth0User) bool { return bytes.Contains(raw, []byte(`"logins_by_day":{"20`)) },
		"non-ASCII": func(raw []byte, u *auth0User) bool { return !isASCII(u.Name) },
	}
	seen := map[string]int{}
	for _, nasty := range []float64{0, 1} {
		for i := 0; i < 3000; i++ {
			raw := Auth0(5, i, Options{Nasty: nasty})
			var u auth0User
			if err := json.Unmarshal(raw, &u); err != nil {
				t.Fatalf("user %d: %v", i, err)
			}
			for name, f := range checks {
				if f(raw, &u) {
					if nasty == 0 {
						t.Fatalf("clean user %d has trait %q: %s", i, name, raw)
					}
					seen[name]++
				}
			}
		}
	}
	for name := range checks {
		if seen[name] == 0 {
			t.Errorf("Nasty=1: no user with trait %q", name)
		}
	}
}

func TestAgeTypeClashAcrossUsers(t *testing.T) {
	var num, str bool
	for i := 0; i < 2000 && !(num && str); i++ {
		var u auth0User
		_ = json.Unmarshal(Auth0(9, i, Options{Nasty: 0.3}), &u)
		switch u.UserMetadata["age"].(type) {
		case string:
			str = true
		case float64:
			num = true
		}
	}
	if !num || !str {
		t.Fatalf("user_metadata.age should be a number for some users and a string for others (num=%v str=%v)", num, str)
	}
}

func luhnValid(s string) bool {
	sum := 0
	for k := 0; k < len(s); k++ {
		c := s[len(s)-1-k]
		if c < '0' || c > '9' {
			return false
		}
		v := int(c - '0')
		if k%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func isASCII(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] >= 0x80 {
			return false
		}
	}
	return true
}

func TestCardNumbersPassLuhn(t *testing.T) {
	for i := 0; i < 1000; i++ {
		r := newRNG(int64(i), 1, i)
		c := string(appendCard(nil, &r))
		if len(c) != 16 || !luhnValid(c) {
			t.Fatalf("card %q fails Luhn", c)
		}
	}
}

func TestAppIDShape(t *testing.T) {
	providers := map[string]int{}
	for i := 0; i < 3000; i++ {
		var u struct {
			ID         string `json:"id"`
			Email      string `json:"email"`
			Identities []struct {
				Provider    string         `json:"provider"`
				ID          string         `json:"id"`
				IdpUserInfo map[string]any `json:"idpUserInfo"`
			} `json:"identities"`
			Attributes map[string]any `json:"attributes"`
			Roles      []string       `json:"roles"`
		}
		if err := json.Unmarshal(AppID(3, i, Options{Nasty: 0.1}), &u); err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		if len(u.ID) != 36 || u.Email == "" || len(u.Identities) != 1 || u.Attributes == nil || u.Roles == nil {
			t.Fatalf("user %d: incomplete: %+v", i, u)
		}
		id := u.Identities[0]
		providers[id.Provider]++
		if id.Provider == "facebook" {
			pic, _ := id.IdpUserInfo["picture"].(map[string]any)
			data, _ := pic["data"].(map[string]any)
			if url, _ := data["url"].(string); !strings.HasPrefix(url, "https://") {
				t.Fatalf("user %d: facebook picture.data.url missing: %v", i, id.IdpUserInfo)
			}
		}
	}
	for _, p := range []string{"cloud_directory", "google", "facebook"} {
		if providers[p] == 0 {
			t.Errorf("no %s users", p)
		}
	}
}

func TestSCIMShape(t *testing.T) {
	enterprise := 0
	for i := 0; i < 2000; i++ {
		var u map[string]any
		if err := json.Unmarshal(SCIM(4, i, Options{Nasty: 0.1}), &u); err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		schemas, _ := u["schemas"].([]any)
		if len(schemas) == 0 || schemas[0] != scimCoreURN || u["userName"] == "" {
			t.Fatalf("user %d: bad core user %v", i, u)
		}
		_, hasExt := u[scimEnterpriseURN]
		if hasExt != (len(schemas) == 2) {
			t.Fatalf("user %d: enterprise data and schemas disagree", i)
		}
		if hasExt {
			enterprise++
		}
	}
	if enterprise == 0 {
		t.Fatal("no enterprise users")
	}
}

func TestCatalogStable(t *testing.T) {
	a, b := Catalog(1), Catalog(2)
	if len(a.Roles) == 0 || len(a.Roles) != len(b.Roles) {
		t.Fatal("catalog sizes differ")
	}
	scopes := map[[2]string]bool{}
	for _, s := range a.Scopes {
		scopes[[2]string{s.Resource, s.Scope}] = true
	}
	for k, r := range a.Roles {
		if r.Name != b.Roles[k].Name {
			t.Fatalf("role %d named %q and %q across seeds", k, r.Name, b.Roles[k].Name)
		}
		for _, p := range r.Permissions {
			if !scopes[[2]string{p.Resource, p.Scope}] {
				t.Fatalf("role %s grants %v, which Scopes does not list", r.Name, p)
			}
		}
	}
	if len(RoleNames()) != len(a.Roles) {
		t.Fatal("RoleNames and Catalog disagree")
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\n\t", "ü🦊", "\xff\xfe", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := jsonw.AppendString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip: %q -> %q", s, back)
		}
	})
}

func BenchmarkAuth0(b *testing.B) {
	for _, nasty := range []float64{0, 0.1} {
		b.Run(map[float64]string{0: "clean", 0.1: "nasty10"}[nasty], func(b *testing.B) {
			opt := Options{Nasty: nasty}
			buf := make([]byte, 0, 1<<16)
			var bytes int64
			for i := 0; b.Loop(); i++ {
				buf = AppendAuth0(buf[:0], 1, i, opt)
				bytes += int64(len(buf))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
			b.SetBytes(bytes / int64(max(b.N, 1)))
		})
	}
}

func BenchmarkAppID(b *testing.B) {
	buf := make([]byte, 0, 1<<16)
	for i := 0; b.Loop(); i++ {
		buf = AppendAppID(buf[:0], 1, i, Options{})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

func BenchmarkSCIM(b *testing.B) {
	buf := make([]byte, 0, 1<<16)
	for i := 0; b.Loop(); i++ {
		buf = AppendSCIM(buf[:0], 1, i, Options{})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

func BenchmarkWriteNDJSON(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		if err := WriteNDJSON(io.Discard, AppendAuth0, 1, n, Options{Nasty: 0.1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "users/s")
}
