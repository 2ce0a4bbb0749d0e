package crash

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/segmentio/encoding/json"
)

// userNameIndex answers GET /Users?filter=userName eq "a" or userName eq "b" ... from the
// sandbox's userName index instead of its filter engine, which scans every stored user
// for every request: at 20,000 users the upsert lookups of one run cost minutes, which is
// the sandbox's cost, not ferry's (a real provider indexes userName). Every resource is
// still rendered by the sandbox itself (GET /Users/{id} with the same query), so what
// ferry receives is what the sandbox would have sent. Anything else passes through.
// TODO(lead): drop this once internal/sandbox/scim uses byName for such filters.
func userNameIndex(s *scim.Server, base string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != base+"/Users" {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		names, ok := userNameEqOr(q.Get("filter"))
		if !ok || q.Get("startIndex") != "" && q.Get("startIndex") != "1" || q.Has("cursor") || q.Has("sortBy") {
			next.ServeHTTP(w, r)
			return
		}
		sub := url.Values{}
		for _, k := range []string{"attributes", "excludedAttributes"} {
			if v := q.Get(k); v != "" {
				sub.Set(k, v)
			}
		}
		resources := []json.RawMessage{}
		seen := map[string]bool{}
		for _, n := range names {
			id, ok := s.UserByName(n)
			if !ok || seen[id] {
				continue
			}
			seen[id] = true
			req := httptest.NewRequest(http.MethodGet, base+"/Users/"+url.PathEscape(id)+"?"+sub.Encode(), nil)
			req.Host = r.Host
			req.Header.Set("Authorization", r.Header.Get("Authorization"))
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, req)
			if rec.Code == http.StatusUnauthorized {
				// Let the sandbox answer the authentication failure itself.
				next.ServeHTTP(w, r)
				return
			}
			if rec.Code == http.StatusOK {
				resources = append(resources, rec.Body.Bytes())
			}
		}
		if len(names) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		b, _ := json.Marshal(map[string]any{
			"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
			"totalResults": len(resources), "itemsPerPage": len(resources), "startIndex": 1,
			"Resources": resources,
		})
		w.Header().Set("Content-Type", scim.MediaType)
		w.Write(b)
	})
}

// userNameEqOr parses `userName eq "x" [or userName eq "y"]...` (attribute and operators
// case-insensitive, RFC 7644 §3.4.2.2); ok is false for any other filter.
func userNameEqOr(f string) (names []string, ok bool) {
	s := strings.TrimSpace(f)
	for {
		rest, found := cutFold(s, "userName eq ")
		if !found {
			return nil, false
		}
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, `"`) {
			return nil, false
		}
		end := 1
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(rest) {
			return nil, false
		}
		var n string
		if json.Unmarshal([]byte(rest[:end+1]), &n) != nil {
			return nil, false
		}
		names = append(names, n)
		s = strings.TrimSpace(rest[end+1:])
		if s == "" {
			return names, true
		}
		if s, found = cutFold(s, "or "); !found {
			return nil, false
		}
		s = strings.TrimLeft(s, " ")
	}
}

func cutFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func TestUserNameEqOr(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`userName eq "a"`, []string{"a"}},
		{`USERNAME EQ "a" or userName eq "b \" or userName eq c"`, []string{"a", `b " or userName eq c`}},
		{`userName eq "a" OR  userName eq "\u00e9"`, []string{"a", "é"}},
		{`userName eq "a" and userName eq "b"`, nil},
		{`userName co "a"`, nil},
		{`emails eq "a"`, nil},
		{`userName eq "a`, nil},
		{`userName eq "a" or`, nil},
		{``, nil},
	}
	for _, tc := range tests {
		got, ok := userNameEqOr(tc.in)
		if ok != (tc.want != nil) || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: got %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
}
