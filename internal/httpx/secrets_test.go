package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// The values below must never appear, in any encoding, in any error string, nor in any
// error of the Unwrap chain.
const (
	bearer       = "eyJhbGciOi.bearer/Tok+en=="
	apiKey       = "ApiKey-9f8e7d/6c+5b4a=="
	clientSecret = "cs_Very$ecret&Value/+="
	configured   = "encryption-Secret-42"
)

func secretForms() []string {
	var out []string
	for _, s := range []string{bearer, apiKey, clientSecret, configured} {
		j, _ := json.Marshal(s)
		out = append(out, s, url.QueryEscape(s), url.PathEscape(s), string(j[1:len(j)-1]))
	}
	return out
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		for _, s := range secretForms() {
			if strings.Contains(msg, s) {
				t.Fatalf("secret %q leaked in %T: %s", s, e, msg)
			}
		}
	}
	var se *StatusError
	if errors.As(err, &se) {
		for _, s := range secretForms() {
			if strings.Contains(se.Body+se.URL, s) {
				t.Fatalf("secret %q in StatusError fields: %+v", s, se)
			}
		}
	}
}

// echo answers with everything it received (path, query, headers), in several encodings:
// what a careless server or a debugging proxy does.
func echo(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		j, _ := json.Marshal(map[string]any{"url": r.URL.String(), "headers": r.Header, "body": string(b)})
		w.Write(j)
		fmt.Fprintf(w, " raw auth=%s body=%s", r.Header.Get("Authorization"), b)
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T) error
	}{
		{"bad status echoing the bearer token and the request", func(t *testing.T) error {
			c, _, _ := newTestClient(t, echo(400), func(c *Config) { c.Token = StaticToken(bearer) })
			_, err := c.Do(ctx, &Request{Method: "POST", Path: "/x", Body: []byte(`{"token":"` + bearer + `"}`)})
			return err
		}},
		{"request body secret echoed back, when configured", func(t *testing.T) error {
			// A value the client was not told about cannot be recognised in an echo:
			// connectors list the secrets their bodies carry (App ID's encryption_secret).
			c, _, _ := newTestClient(t, echo(422), func(c *Config) { c.Secrets = []string{configured} })
			_, err := c.Do(ctx, &Request{Method: "POST", Path: "/x", Body: []byte(`{"secret":"` + configured + `"}`)})
			return err
		}},
		{"configured secret in query and echoed body", func(t *testing.T) error {
			c, _, _ := newTestClient(t, echo(500), func(c *Config) { c.Secrets = []string{configured}; c.MaxRetries = 1 })
			_, err := c.Do(ctx, &Request{Path: "/cloud_directory/export", Query: url.Values{"encryption_secret": {configured}}})
			return err
		}},
		{"URL with ?apikey= and a 404", func(t *testing.T) error {
			c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, nil)
			_, err := c.Do(ctx, &Request{Path: "/x?apikey=" + url.QueryEscape(apiKey) + "&page=1"})
			return err
		}},
		{"network error with secrets in the URL", func(t *testing.T) error {
			srv := httptest.NewServer(http.NotFoundHandler())
			base := srv.URL
			srv.Close()
			clk := newFakeClock()
			c, err := New(Config{BaseURL: base, Now: clk.Now, Sleep: clk.Sleep, MaxRetries: 1, Token: StaticToken(bearer)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Do(ctx, &Request{Path: "/x", Query: url.Values{"access_token": {bearer}, "X-Amz-Signature": {apiKey}}})
			return err
		}},
		{"signed URL with an unusual secret parameter name", func(t *testing.T) error {
			c, _, _ := newTestClient(t, echo(403), func(c *Config) { c.Secrets = []string{apiKey} })
			_, err := c.Do(ctx, &Request{Path: "/x?opaque=" + url.QueryEscape(apiKey)})
			return err
		}},
		{"Auth0 token endpoint echoing the client secret", func(t *testing.T) error {
			srv := httptest.NewServer(echo(401))
			t.Cleanup(srv.Close)
			src := &Auth0ClientCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "id", ClientSecret: clientSecret}
			c, _, _ := newTestClient(t, echo(200), func(c *Config) { c.Token = src })
			_, err := c.Do(ctx, &Request{Path: "/x"})
			return err
		}},
		{"IAM endpoint echoing the API key", func(t *testing.T) error {
			srv := httptest.NewServer(echo(400))
			t.Cleanup(srv.Close)
			src := &IBMIAM{URL: srv.URL, APIKey: apiKey}
			_, err := src.Token(ctx)
			return err
		}},
		{"context cancelled while waiting, last error echoing the token", func(t *testing.T) error {
			c, _, _ := newTestClient(t, echo(503), func(c *Config) { c.Token = StaticToken(bearer) })
			cctx, cancel := context.WithCancel(ctx)
			c.onRetry = func(RetryEvent) { cancel() }
			_, err := c.Do(cctx, &Request{Path: "/x"})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
			return err
		}},
		{"decode error of a body holding the token", func(t *testing.T) error {
			c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"token":"`+bearer+`", broken`)
			}, func(c *Config) { c.Token = StaticToken(bearer) })
			var out map[string]any
			return c.GetJSON(ctx, "/x", nil, &out)
		}},
		{"stream idle timeout with a signed URL", func(t *testing.T) error {
			done := make(chan struct{})
			c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-done:
				case <-r.Context().Done():
				}
			}, func(c *Config) { c.IdleTimeout = 20 * time.Millisecond; c.MaxRetries = -1 })
			defer close(done)
			_, _, err := c.Stream(ctx, &Request{Path: "/export.json.gz?X-Amz-Credential=" + url.QueryEscape(apiKey)})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertNoSecret(t, tc.run(t)) })
	}
}

func TestScrubLongestFirst(t *testing.T) {
	s := newScrubber([]string{"abc", "abcdef"})
	if got := s.scrub("x abcdef y abc"); got != "x [REDACTED] y [REDACTED]" {
		t.Fatalf("scrub = %q", got)
	}
	s.addToken("")
	s.add("")
	if got := s.scrub("nothing"); got != "nothing" {
		t.Fatalf("empty secrets scrubbed something: %q", got)
	}
	for i := range 10 {
		s.addToken(fmt.Sprintf("token-%d", i))
	}
	if got := s.scrub("token-9 token-6"); got != "[REDACTED] [REDACTED]" {
		t.Fatalf("recent tokens: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://h/p?apikey=K&page=2":                          "https://h/p?apikey=REDACTED-&page=2",
		"https://u:p@h/p#frag":                                 "https://%5BREDACTED%5D@h/p",
		"https://b.s3/x.gz?X-Amz-Signature=S&X-Amz-Date=D&a=1": "https://b.s3/x.gz?X-Amz-Date=REDACTED-&X-Amz-Signature=REDACTED-&a=1",
		"https://h/?sig=1&client_secret=2&access_token=3":      "https://h/?access_token=REDACTED-&client_secret=REDACTED-&sig=REDACTED-",
	}
	for in, want := range cases {
		want = strings.ReplaceAll(want, "REDACTED-", url.QueryEscape(redacted))
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactURL("https://h/%zz?apikey=K"); strings.Contains(got, "K") {
		t.Errorf("unparseable: %q", got)
	}
}
