package auth0

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

func TestTokenGrant(t *testing.T) {
	tn := newTenant(t, Config{Users: 3, Seed: 1})
	cr := tn.srv.Credentials()
	form := func(v url.Values) (string, string) { return v.Encode(), "application/x-www-form-urlencoded" }
	js := func(v map[string]string) (string, string) {
		b, _ := json.Marshal(v)
		return string(b), "application/json"
	}
	good := map[string]string{"grant_type": "client_credentials", "client_id": cr.ClientID, "client_secret": cr.ClientSecret, "audience": cr.Audience}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	toForm := func(m map[string]string) url.Values {
		v := url.Values{}
		for a, b := range m {
			v.Set(a, b)
		}
		return v
	}
	cases := []struct {
		name       string
		body, ct   string
		wantStatus int
		wantErr    string
	}{
		{"json", first(js(good)), "application/json", 200, ""},
		{"form", first(form(toForm(good))), "application/x-www-form-urlencoded", 200, ""},
		{"bad secret", first(js(with("client_secret", "nope"))), "application/json", 401, "access_denied"},
		{"unknown client", first(js(with("client_id", "nope"))), "application/json", 401, "access_denied"},
		{"wrong audience", first(js(with("audience", "https://other/api/v2/"))), "application/json", 403, "access_denied"},
		{"password grant", first(js(with("grant_type", "password"))), "application/json", 403, "unauthorized_client"},
		{"no grant", first(js(with("grant_type", ""))), "application/json", 400, "invalid_request"},
		{"text body", "hello", "text/plain", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn.token = ""
			r := tn.do(http.MethodPost, "/oauth/token", strings.NewReader(c.body), c.ct)
			if r.status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, c.wantStatus, r.body)
			}
			var body map[string]any
			r.json(t, &body)
			if c.wantErr != "" {
				if body["error"] != c.wantErr {
					t.Fatalf("error %v, want %s", body["error"], c.wantErr)
				}
				if strings.Contains(string(r.body), cr.ClientSecret) {
					t.Fatal("error echoes the client secret")
				}
				return
			}
			if body["token_type"] != "Bearer" || body["expires_in"].(float64) != 86400 || body["access_token"] == "" || body["scope"] == "" {
				t.Fatalf("token response %s", r.body)
			}
			tn.token = body["access_token"].(string)
			if r := tn.get("/api/v2/users"); r.status != 200 {
				t.Fatalf("issued token refused: %d %s", r.status, r.body)
			}
		})
	}
}

func first(a, _ string) string { return a }

func TestBearerTokenChecks(t *testing.T) {
	tn := newTenant(t, Config{Users: 3, Seed: 1, TokenTTL: time.Hour})
	other := newTenant(t, Config{Users: 3, Seed: 1})
	valid := tn.token
	cases := []struct {
		name, token, header string
		advance             time.Duration
		want                string
	}{
		{"missing", "", "", 0, "Missing authentication"},
		{"not bearer", "", "Basic abc", 0, "Bad HTTP authentication header format"},
		{"garbage", "abc", "", 0, "Invalid token"},
		{"tampered", valid[:len(valid)-2] + "xx", "", 0, "Invalid token"},
		{"other tenant", other.token, "", 0, "Invalid token"},
		{"expired", valid, "", time.Hour, "Expired token received for JSON Web Token validation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn.clock.Advance(c.advance)
			tn.token = c.token
			req, _ := http.NewRequest(http.MethodGet, tn.ts.URL+"/api/v2/users", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			} else if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			res, err := tn.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var e apiError
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 401 || e.StatusCode != 401 || e.Error != "Unauthorized" || e.Message != c.want || e.Attributes["error"] != c.want {
				t.Fatalf("got %d %+v, want 401 %q", res.StatusCode, e, c.want)
			}
		})
	}
	// Just before expiry the token still works.
	tn2 := newTenant(t, Config{Users: 1, TokenTTL: time.Hour})
	tn2.clock.Advance(time.Hour - time.Second)
	if r := tn2.get("/api/v2/users"); r.status != 200 {
		t.Fatalf("token refused before expiry: %d", r.status)
	}
}

func TestPayloadOver1MBRefused(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1})
	big := map[string]string{"name": "x", "description": strings.Repeat("a", 1<<20)}
	r := tn.postJSON("/api/v2/roles", big)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %s", r.status, r.body)
	}
	if e := r.apiErr(t); !strings.Contains(e.Message, "1048576") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	tn := newTenant(t, Config{})
	r := tn.get("/api/v2/nope")
	if r.status != 404 {
		t.Fatalf("status %d", r.status)
	}
	r.apiErr(t)
}
