package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// DefaultIAMURL is IBM Cloud IAM's token endpoint.
const DefaultIAMURL = "https://iam.cloud.ibm.com/identity/token"

// IBMIAM exchanges an IBM Cloud API key for IAM access tokens (App ID management API):
// POST form grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=KEY answers
// {"access_token","expires_in":3600,"expiration",...}. Tokens are cached and refreshed
// before they expire; use a pointer, and set the fields before the first Token call.
type IBMIAM struct {
	URL    string // default DefaultIAMURL
	APIKey string
	// Transport and Now are for tests.
	Transport http.RoundTripper
	Now       func() time.Time

	once  sync.Once
	err   error
	cache *tokenCache
}

var (
	_ TokenSource  = (*IBMIAM)(nil)
	_ Invalidator  = (*IBMIAM)(nil)
	_ SecretHolder = (*IBMIAM)(nil)
)

func (m *IBMIAM) init() {
	if m.APIKey == "" {
		m.err = errors.New("iam token: no API key")
		return
	}
	c, err := New(Config{Name: "iam token", BaseURL: cmp(m.URL, DefaultIAMURL), Secrets: []string{m.APIKey},
		Transport: m.Transport, Now: m.Now, MaxRetries: 4})
	if err != nil {
		m.err = err
		return
	}
	form := url.Values{
		"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"},
		"apikey":     {m.APIKey},
	}
	body := []byte(form.Encode())
	m.cache = &tokenCache{now: c.clk.now, fetch: func(ctx context.Context) (string, time.Duration, error) {
		var out tokenResponse
		_, err := c.DoJSON(ctx, &Request{Method: http.MethodPost, Idempotent: true, Body: body,
			ContentType: "application/x-www-form-urlencoded"}, nil, &out)
		if err != nil {
			return "", 0, err
		}
		return out.AccessToken, out.ttl(c.clk.now()), nil
	}}
}

// Token returns a valid access token, fetching or refreshing it as needed.
func (m *IBMIAM) Token(ctx context.Context) (string, error) {
	m.once.Do(m.init)
	if m.err != nil {
		return "", m.err
	}
	return m.cache.Token(ctx)
}

// Invalidate drops tok after the API refused it.
func (m *IBMIAM) Invalidate(tok string) {
	m.once.Do(m.init)
	if m.cache != nil {
		m.cache.Invalidate(tok)
	}
}

// Secrets lists the API key.
func (m *IBMIAM) Secrets() []string { return []string{m.APIKey} }
