// Package endpoint parses the SRC/DST strings of the command line:
// auth0://TENANT, appid://REGION/TENANT, scim+https://HOST/BASE, a file path, or "-".
package endpoint

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
)

// Endpoint is a parsed SRC or DST.
type Endpoint struct {
	Scheme string     // auth0, appid, scim+https, scim+http, file
	Host   string     // tenant domain, region, or SCIM host
	Path   string     // App ID tenant id, SCIM base path, or the file path ("-" for stdio)
	Query  url.Values // connection=, base=, iam=, ...
	Raw    string
}

// Parse parses s. Anything without a scheme is a file path.
func Parse(s string) (*Endpoint, error) {
	if s == "" {
		return nil, fmt.Errorf("endpoint: empty: %w", core.ErrUsage)
	}
	i := strings.Index(s, "://")
	if i <= 0 || strings.ContainsAny(s[:i], `/\.`) {
		return &Endpoint{Scheme: "file", Path: s, Raw: s, Query: url.Values{}}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %v: %w", Redact(s), err, core.ErrUsage)
	}
	if u.User != nil {
		// Secrets come only from the environment; a URL with credentials would leak them
		// into logs, manifests and shell history.
		return nil, fmt.Errorf("endpoint %q: credentials in a URL are refused, use the environment: %w", Redact(s), core.ErrUsage)
	}
	return &Endpoint{Scheme: u.Scheme, Host: u.Host, Path: u.Path, Query: u.Query(), Raw: s}, nil
}

// String is the endpoint without credentials, safe for logs and manifests.
func (e *Endpoint) String() string { return Redact(e.Raw) }

// Redact removes any userinfo from a URL-like string.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("REDACTED")
	return u.String()
}
