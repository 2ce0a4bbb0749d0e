package auth0export

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/ferry-dev/ferry/internal/httpx"
)

// ErrHostile marks a job answer ferry refuses to follow: a download location off the
// expected hosts or not https, a completed job without a location. The error's text does
// not name it, so that each caller keeps its own wording (extract adds its ErrHostile).
var ErrHostile = errors.New("auth0: refused export job answer")

// hostile is an error that matches ErrHostile without quoting it.
type hostile struct{ msg string }

func (e *hostile) Error() string        { return e.msg }
func (e *hostile) Is(target error) bool { return target == ErrHostile }

func refuse(format string, args ...any) error { return &hostile{fmt.Sprintf(format, args...)} }

// exportHost matches the hosts Auth0 serves export files from
// (https://user-exports.auth0.com/JOB/TENANT.json.gz?Expires=...&Signature=..., and the
// regional user-exports.REGION.auth0.com).
var exportHost = regexp.MustCompile(`^user-exports(\.[a-z0-9-]+)?\.auth0\.com$`)

// IsExportHost reports whether host (lower case, no port) is one Auth0 serves export files from.
func IsExportHost(host string) bool { return exportHost.MatchString(host) }

// CheckLocation refuses a download location that is not https (plain http only to a
// loopback host when the API root is itself plain http on loopback: the sandbox) or that
// is neither on the API root's host nor, unless the base URL was overridden (a proxy, a
// sandbox), on Auth0's export host without a port. A location elsewhere would make ferry
// fetch, and import or delete by, whatever a tampered job answer points at. root is the
// tenant's root URL (https://TENANT or ?base=). Refusals match ErrHostile and never quote
// the location's query (its signature).
func CheckLocation(loc, root string, overridden bool) (*url.URL, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, refuse("auth0: export location %s is not a plain absolute URL", httpx.RedactURL(loc))
	}
	r, err := url.Parse(root)
	if err != nil {
		return nil, fmt.Errorf("auth0: base URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if r.Scheme != "http" || !Loopback(u.Hostname()) || !Loopback(r.Hostname()) {
			return nil, refuse("auth0: export location %s is not https", httpx.RedactURL(loc))
		}
	default:
		return nil, refuse("auth0: export location %s is not https", httpx.RedactURL(loc))
	}
	host := strings.ToLower(u.Host)
	if host == strings.ToLower(r.Host) {
		return u, nil
	}
	if !overridden && u.Port() == "" && exportHost.MatchString(host) {
		return u, nil
	}
	return nil, refuse("auth0: export location on host %q, expected %q or Auth0's export host", u.Host, r.Host)
}

// Loopback reports whether host (no port) is localhost or a loopback address.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
