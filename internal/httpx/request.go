package httpx

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Request is one API call. Body is a byte slice so that every retry can resend it.
type Request struct {
	Method string     // default GET
	Path   string     // joined to BaseURL (may carry a query); an absolute http(s) URL is used as is
	Query  url.Values // added to the URL's query
	Body   []byte
	// ContentType of Body; default the client's MediaType when Body is set.
	ContentType string
	Header      http.Header
	// Idempotent marks a POST or PATCH safe to resend after a failure that may have
	// reached the server. GET, HEAD, OPTIONS, PUT and DELETE are idempotent anyway.
	// Others are retried only on 429, on 503 with Retry-After, and on connection errors
	// that happened before the request was written.
	Idempotent bool
	// AllowStatus lists non-2xx statuses returned as a Response instead of an error, and
	// not retried (e.g. 404 for a lookup, 409 for a create that may exist).
	AllowStatus []int
	// MaxBody overrides the client's body cap for this response (0: the client's).
	MaxBody int64
}

// Response is a completed call with its body read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *Request) method() string {
	if r.Method == "" {
		return http.MethodGet
	}
	return strings.ToUpper(r.Method)
}

func (r *Request) idempotent() bool {
	switch r.method() {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Idempotent
}

func (r *Request) allowed(status int) bool {
	return (status >= 200 && status < 300) || slices.Contains(r.AllowStatus, status)
}

// resolve builds the request URL: Path joined to base (its escaping kept as given, so a
// caller's url.PathEscape("auth0|123") survives), then base, Path and Query parameters.
func resolve(base *url.URL, path string, q url.Values) (*url.URL, error) {
	ref, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	var u url.URL
	if ref.IsAbs() {
		u = *ref
	} else {
		u = *base
		if p := ref.EscapedPath(); p != "" {
			joined := strings.TrimSuffix(base.EscapedPath(), "/") + "/" + strings.TrimPrefix(p, "/")
			unesc, err := url.PathUnescape(joined)
			if err != nil {
				return nil, err
			}
			u.Path, u.RawPath = unesc, joined
		}
		u.RawQuery = joinQuery(base.RawQuery, ref.RawQuery)
		u.Fragment, u.RawFragment = "", ""
	}
	if len(q) > 0 {
		u.RawQuery = joinQuery(u.RawQuery, q.Encode())
	}
	return &u, nil
}

func joinQuery(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}
