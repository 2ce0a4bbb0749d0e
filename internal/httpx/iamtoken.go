package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/url"
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

	g grant
}

var (
	_ TokenSource  = (*IBMIAM)(nil)
	_ Invalidator  = (*IBMIAM)(nil)
	_ SecretHolder = (*IBMIAM)(nil)
)

func (m *IBMIAM) request() (*Client, *Request, any, error) {
	if m.APIKey == "" {
		return nil, nil, nil, errors.New("iam token: no API key")
	}
	m.g.describe("API key", "the IBM Cloud API key (IBMCLOUD_API_KEY)")
	c, err := New(Config{Name: "iam token", BaseURL: cmp(m.URL, DefaultIAMURL), Secrets: []string{m.APIKey},
		Transport: m.Transport, Now: m.Now, MaxRetries: 4})
	if err != nil {
		return nil, nil, nil, err
	}
	form := url.Values{
		"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"},
		"apikey":     {m.APIKey},
	}
	return c, &Request{Method: http.MethodPost, Idempotent: true, Body: []byte(form.Encode()),
		ContentType: "application/x-www-form-urlencoded"}, nil, nil
}

// Token returns a valid access token, fetching or refreshing it as needed.
func (m *IBMIAM) Token(ctx context.Context) (string, error) { return m.g.token(ctx, m.request) }

// Invalidate drops tok after the API refused it.
func (m *IBMIAM) Invalidate(tok string) { m.g.invalidate(m.request, tok) }

// Secrets lists the API key.
func (m *IBMIAM) Secrets() []string { return []string{m.APIKey} }
