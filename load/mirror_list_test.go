package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/segmentio/encoding/json"
	"golang.org/x/time/rate"

	"github.com/ferry-dev/ferry/internal/auth0export"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// Listers against scripted servers: the ways a provider's listing goes wrong must end in
// an error (mirror mode then removes nothing), never in an endless loop or a wrong list.

func scriptedSCIM(t *testing.T, h http.HandlerFunc) (*SCIM, *atomic.Int32) {
	t.Helper()
	var writes atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/Users") {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ts.Close)
	c, err := httpx.New(httpx.Config{Name: "scim", BaseURL: ts.URL + "/v2", Token: httpx.StaticToken("tok"),
		MediaType: scimMediaType, Limiter: httpx.NewLimiter(rate.Inf, 1), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSCIM(context.Background(), c, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, &writes
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
	w.Header().Set("Content-Type", scimMediaType)
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
		}, 0, "no user not listed already"},
		{"error part way", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("startIndex") != "1" {
				http.Error(w, `{"status":"400","detail":"bad"}`, http.StatusBadRequest)
				return
			}
			scimPage(w, 300, names(0, 100), "")
		}, 0, "after 100"},
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

// A listing that fails part way removes nothing, even with --force.
func TestMirrorSCIMListFailureRemovesNothing(t *testing.T) {
	s, writes := scriptedSCIM(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("startIndex") != "1" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		scimPage(w, 300, []string{"gone1", "gone2", "offgone"}, "")
	})
	_, err := Mirror(context.Background(), s, keepOf("someone"), MirrorConfig{MaxDelete: 100, Force: true})
	if !errors.Is(err, ErrMirrorRefused) {
		t.Fatalf("err %v", err)
	}
	if writes.Load() != 0 {
		t.Errorf("%d writes after a failed listing", writes.Load())
	}
}

func TestSCIMListInactiveAsString(t *testing.T) {
	s, writes := scriptedSCIM(t, func(w http.ResponseWriter, r *http.Request) {
		scimPage(w, 3, []string{"keep", "gone", "offgone"}, "")
	})
	rep, err := Mirror(context.Background(), s, keepOf("KEEP"), MirrorConfig{MaxDelete: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Candidates != 1 || rep.AlreadyInactive != 1 || writes.Load() != 1 || rep.Users[0].UserName != "gone" {
		t.Errorf("report %+v, %d writes", rep, writes.Load())
	}
}

func TestAppIDListUsers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		total   int
		ignore  bool
		cap     int
		want    int
		wantErr string
	}{
		{name: "pages", total: 120, cap: 50, want: 120},
		{name: "capped pages", total: 77, cap: 20, want: 77},
		{name: "exact multiple", total: 100, cap: 50, want: 100},
		{name: "paging ignored", total: 500, cap: 50, ignore: true, wantErr: "no user not listed already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/users/export" {
					http.NotFound(w, r)
					return
				}
				start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
				if tc.ignore {
					start = 0
				}
				var users []map[string]string
				for i := start; i < min(start+tc.cap, tc.total); i++ {
					u := map[string]string{"id": fmt.Sprint("p", i)}
					if i%10 != 0 {
						u["email"] = fmt.Sprintf("u%d@example.com", i)
					}
					users = append(users, u)
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"totalResults": tc.total, "users": users})
			}))
			defer ts.Close()
			c, err := httpx.New(httpx.Config{Name: "appid", BaseURL: ts.URL, Limiter: httpx.NewLimiter(rate.Inf, 1)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := listTarget(t, NewAppID(c, false, "", core.Options{}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("listed %d (%v), want %d", len(got), err, tc.want)
			}
			// Profiles without an email have no name: mirror mode never removes them.
			if got[0].UserName != "" || got[1].UserName != "u1@example.com" {
				t.Errorf("names %q %q", got[0].UserName, got[1].UserName)
			}
		})
	}
	c, _ := httpx.New(httpx.Config{Name: "appid", BaseURL: "http://127.0.0.1:1"})
	if _, err := listTarget(t, NewAppID(c, true, "s", core.Options{})); !errors.Is(err, core.ErrUsage) {
		t.Errorf("Cloud Directory target: %v", err)
	}
}

// The Auth0 listing keeps to the sink's connection: a user merely linked to it (its
// primary identity elsewhere) is not listed, so never removed.
func TestAuth0ListKeepsToConnection(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/connections":
			_, _ = w.Write([]byte(`[{"id":"con_1","name":"Username-Password-Authentication","strategy":"auth0"}]`))
		case "/api/v2/users":
			q := r.URL.Query()
			if !strings.Contains(q.Get("q"), `identities.connection:"Username-Password-Authentication"`) {
				t.Errorf("q=%q", q.Get("q"))
			}
			_, _ = w.Write([]byte(`{"start":0,"limit":100,"length":3,"total":3,"users":[
				{"user_id":"auth0|1","email":"a@example.com","identities":[{"connection":"Username-Password-Authentication"}]},
				{"user_id":"google-oauth2|2","email":"b@example.com","identities":[{"connection":"google-oauth2"},{"connection":"Username-Password-Authentication"}]},
				{"user_id":12345,"username":"carl","identities":[{"connection":"Username-Password-Authentication"}]}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	s, err := NewAuth0(Auth0Config{Domain: "tenant.example", BaseURL: ts.URL, Token: httpx.StaticToken("t"),
		Limiter: httpx.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := listTarget(t, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []core.TargetUser{{ID: "auth0|1", UserName: "a@example.com", Email: "a@example.com"}, {ID: "12345", UserName: "carl"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %+v, want %+v", got, want)
	}
}

func TestAuth0ExportLocation(t *testing.T) {
	tests := []struct {
		base, loc string
		ok        bool
	}{
		{"https://acme.eu.auth0.com", "https://user-exports.auth0.com/job/acme.json.gz?Signature=x", true},
		{"https://acme.eu.auth0.com", "https://user-exports.eu.auth0.com/job/acme.json.gz", true},
		{"https://acme.eu.auth0.com", "https://acme.eu.auth0.com/files/x.gz", true},
		{"https://acme.eu.auth0.com", "http://user-exports.auth0.com/job/x.gz", false},
		{"https://acme.eu.auth0.com", "https://evil.example/x.gz", false},
		{"https://acme.eu.auth0.com", "https://user-exports.auth0.com.evil.example/x.gz", false},
		{"https://acme.eu.auth0.com", "https://user-exports.auth0.com:8443/x.gz", false},
		{"https://acme.eu.auth0.com", "https://me:pw@user-exports.auth0.com/x.gz", false},
		{"https://acme.eu.auth0.com", "/relative/x.gz", false},
		{"http://127.0.0.1:9999", "http://127.0.0.1:9999/user-exports/j/f.gz", true},
		{"http://127.0.0.1:9999", "http://10.0.0.1:9999/user-exports/j/f.gz", false},
		// A base override (proxy, sandbox) accepts files from its own host only.
		{"https://proxy.example", "https://user-exports.auth0.com/job/x.gz", false},
	}
	for _, tc := range tests {
		s := &Auth0{cfg: Auth0Config{Domain: "acme.eu.auth0.com", BaseURL: tc.base}}
		_, err := auth0export.CheckLocation(tc.loc, s.cfg.BaseURL, s.overridden())
		if (err == nil) != tc.ok {
			t.Errorf("%s from %s: err %v, want ok=%v", tc.loc, tc.base, err, tc.ok)
		}
	}
}
