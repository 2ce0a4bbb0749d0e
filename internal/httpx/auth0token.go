package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Auth0ClientCredentials gets Management API tokens with the OAuth 2.0 client-credentials
// grant (RFC 6749 §4.4) from TokenURL (https://TENANT/oauth/token): POST
// {"grant_type":"client_credentials","client_id","client_secret","audience"} answers
// {"access_token","expires_in","token_type"}. Tokens are cached and refreshed before they
// expire; use a pointer, and set the fields before the first Token call.
type Auth0ClientCredentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Audience defaults to https://TENANT/api/v2/ (the Management API) from TokenURL.
	Audience string
	// Transport and Now are for tests.
	Transport http.RoundTripper
	Now       func() time.Time

	g grant
}

var (
	_ TokenSource  = (*Auth0ClientCredentials)(nil)
	_ Invalidator  = (*Auth0ClientCredentials)(nil)
	_ SecretHolder = (*Auth0ClientCredentials)(nil)
)

func (a *Auth0ClientCredentials) request() (*Client, *Request, any, error) {
	u, err := url.Parse(a.TokenURL)
	if err != nil || u.Host == "" {
		return nil, nil, nil, fmt.Errorf("auth0 token: token URL %s is not an absolute URL", RedactURL(a.TokenURL))
	}
	if a.ClientID == "" || a.ClientSecret == "" {
		return nil, nil, nil, errors.New("auth0 token: client id and client secret are both required")
	}
	audience := a.Audience
	if audience == "" {
		audience = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/api/v2/"}).String()
	}
	a.g.describe("client credentials", "the client id and secret (AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET) and that the application may call the API "+audience)
	c, err := New(Config{Name: "auth0 token", BaseURL: a.TokenURL, Secrets: []string{a.ClientSecret},
		Transport: a.Transport, Now: a.Now, MaxRetries: 4})
	if err != nil {
		return nil, nil, nil, err
	}
	body := map[string]string{
		"grant_type":    "client_credentials",
		"client_id":     a.ClientID,
		"client_secret": a.ClientSecret,
		"audience":      audience,
	}
	// Asking for a token twice is harmless: the request is idempotent in effect.
	return c, &Request{Method: http.MethodPost, Idempotent: true}, body, nil
}

// Token returns a valid access token, fetching or refreshing it as needed.
func (a *Auth0ClientCredentials) Token(ctx context.Context) (string, error) {
	return a.g.token(ctx, a.request)
}

// Invalidate drops tok after the API refused it.
func (a *Auth0ClientCredentials) Invalidate(tok string) { a.g.invalidate(a.request, tok) }

// Secrets lists the client secret.
func (a *Auth0ClientCredentials) Secrets() []string { return []string{a.ClientSecret} }

// tokenResponse covers both token endpoints. IBM IAM also sends "expiration" (UNIX
// seconds); Auth0 sends only expires_in.
type tokenResponse struct {
	AccessToken string  `json:"access_token"`
	ExpiresIn   float64 `json:"expires_in"`
	Expiration  float64 `json:"expiration"`
}

// defaultTTL is assumed when a token response gives no lifetime: short, so that a wrong
// guess costs a refresh, not a burst of 401s.
const defaultTTL = 5 * time.Minute

func (t tokenResponse) ttl(now time.Time) time.Duration {
	const maxTTL = 30 * 24 * time.Hour
	switch {
	case t.ExpiresIn > 0:
		// Clamp in seconds first: a huge float would overflow the Duration conversion.
		return time.Duration(min(t.ExpiresIn, maxTTL.Seconds()) * float64(time.Second))
	case t.Expiration >= epochFloor && t.Expiration < 1e12:
		return min(time.Unix(int64(t.Expiration), 0).Sub(now), maxTTL)
	}
	return defaultTTL
}
