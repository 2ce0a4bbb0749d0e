package httpx

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// FuzzRedactURL: whatever the input, a credential-like query parameter never keeps its
// value, and userinfo never survives.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{
		"https://h/p?apikey=K&page=2",
		"https://u:p@h/p?X-Amz-Signature=abc#frag",
		"https://h/?a=1&a=2&Token=x;y",
		"http://[::1]:80/%zz?secret=%",
		"?encryption_secret=s&sig=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := RedactURL(raw)
		u, err := url.Parse(out)
		if err != nil {
			if out != "[unparseable URL]" {
				t.Fatalf("output %q does not parse: %v", out, err)
			}
			return
		}
		if u.User != nil && u.User.String() != url.QueryEscape(redacted) && u.User.Username() != redacted {
			t.Fatalf("userinfo kept: %q", out)
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			if u.RawQuery != redacted {
				t.Fatalf("query kept unparsed: %q", out)
			}
			return
		}
		for k, vs := range q {
			if sensitiveParam(k) {
				for _, v := range vs {
					if v != redacted {
						t.Fatalf("%s=%q kept in %q", k, v, out)
					}
				}
			}
		}
	})
}

// FuzzScrub: once scrubbed, no form of a secret is left outside the markers.
func FuzzScrub(f *testing.F) {
	f.Add("token abc/+= here", "abc/+=", "other")
	f.Add(`{"t":"a\"b"}`, `a"b`, "")
	f.Add("ab[REDACTED]cd", "D]c", "ab")
	f.Fuzz(func(t *testing.T, text, secret, token string) {
		if strings.ContainsRune(secret, 0) || strings.ContainsRune(token, 0) {
			return
		}
		s := newScrubber([]string{secret})
		s.addToken(token)
		out := strings.ReplaceAll(s.scrub(text), redacted, "\x00")
		for _, v := range []string{secret, token, url.QueryEscape(secret), url.QueryEscape(token)} {
			if v != "" && strings.Contains(out, v) {
				t.Fatalf("scrub(%q) left %q: %q", text, v, out)
			}
		}
	})
}

// FuzzRateHeaders: hints are never negative nor beyond a week, whatever the server sends,
// and the limiter stays usable after observing them.
func FuzzRateHeaders(f *testing.F) {
	f.Add("7", "50", "3", "1700000020", 429)
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT", "", "", "", 503)
	f.Add("-1", "NaN", "1e309", "99999999999999999999", 200)
	f.Add("", "10", "0", "2.5", 200)
	f.Fuzz(func(t *testing.T, retryAfter, limit, remaining, reset string, status int) {
		now := time.Unix(1_700_000_000, 0)
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After": retryAfter, "X-Ratelimit-Limit": limit,
			"X-Ratelimit-Remaining": remaining, "X-Ratelimit-Reset": reset} {
			if v != "" {
				h.Set(k, v)
			}
		}
		week := maxHintSeconds * time.Second
		if d, ok := parseRetryAfter(retryAfter, now); ok && (d < 0 || d > week) {
			t.Fatalf("Retry-After %q -> %s", retryAfter, d)
		}
		if d, ok := serverHint(status, h, now); ok && (d < 0 || d > week) {
			t.Fatalf("hint %s", d)
		}
		rh := parseRateHeaders(h, now)
		if rh.hasReset && (rh.reset.Before(now) || rh.reset.Sub(now) > week) {
			t.Fatalf("reset %q -> %v", reset, rh.reset)
		}
		l := NewLimiter(10, 10)
		l.observe(ticket{seq: 1, sent: now}, now, status, h, time.Second, false)
		if r := float64(l.Rate()); !(r >= float64(minRate) && r <= max(10, rh.limit)) {
			t.Fatalf("rate %v after %v", r, h)
		}
		if l.BlockedUntil().Sub(now) > week {
			t.Fatalf("blocked for %s", l.BlockedUntil().Sub(now))
		}
	})
}

// FuzzTokenResponse: a token answer never yields a lifetime beyond 30 days, nor panics.
func FuzzTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","expires_in":3600,"expiration":1700003600}`))
	f.Add([]byte(`{"access_token":"a","expires_in":1e308}`))
	f.Add([]byte(`{"access_token":1,"expires_in":"3600"}`))
	f.Add([]byte(`{"expiration":-5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r tokenResponse
		if json.Unmarshal(b, &r) != nil {
			return
		}
		if ttl := r.ttl(time.Unix(1_700_000_000, 0)); ttl > 30*24*time.Hour {
			t.Fatalf("ttl %s from %s", ttl, b)
		}
	})
}

// fuzzGrantSecret is the client secret the grant refusals must never show.
const fuzzGrantSecret = "Zq7s3cretVALUE"

// FuzzGrantRefusal: whatever a token endpoint answers with a 4xx, the refusal is one line
// that keeps the endpoint's code when it sent one, never shows the secret, and never
// panics.
func FuzzGrantRefusal(f *testing.F) {
	for _, s := range []string{
		`{"error":"access_denied","error_description":"Unauthorized"}`,
		`{"error":"unauthorized_client","error_description":"Grant type 'client_credentials' not allowed for the client."}`,
		`{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found","context":{"requestId":"x"}}`,
		`{"error":{"nested":true},"errorMessage":7}`,
		// Escapes that spell the secret and a line break only once decoded.
		`{"error":"invalid_client","error_description":"secret \u005Aq7s3cretVALUE was wrong\nsee\r\u0000x"}`,
		`{"error":"Zq7s3cret\u0056ALUE"}`,
		`not json`, ``,
	} {
		f.Add(s, 401)
	}
	f.Fuzz(func(t *testing.T, body string, status int) {
		scrub := newScrubber([]string{fuzzGrantSecret})
		se := &StatusError{Name: "auth0 token", Method: "POST", URL: "https://t/oauth/token", Status: status,
			Body: snippet([]byte(body), scrub)}
		g := &grant{}
		g.describe("client credentials", "the credentials")
		err := g.refusal(se, scrub)
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("refusal is not one line: %q", msg)
		}
		if strings.Contains(msg, fuzzGrantSecret) {
			t.Fatalf("refusal shows the secret: %q", msg)
		}
		var ge *GrantError
		isGrant := errors.As(err, &ge)
		if want := status >= 400 && status <= 499 && status != 429; isGrant != want {
			t.Fatalf("status %d: GrantError %v, want %v", status, isGrant, want)
		}
		if isGrant && !errors.Is(err, se) && ge.Err != se {
			t.Fatal("GrantError does not unwrap to the status error")
		}
	})
}
