package httpx

import (
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/segmentio/encoding/json"
)

const redacted = "[REDACTED]"

// sensitiveParam reports whether a query parameter name is likely to carry a credential:
// tokens, API keys, signatures of pre-signed URLs (Auth0 export locations are signed
// object-store URLs: X-Amz-Signature, X-Amz-Credential, ...), App ID's encryption_secret.
func sensitiveParam(name string) bool {
	n := strings.ToLower(name)
	if n == "sig" || strings.HasPrefix(n, "x-amz-") || strings.HasPrefix(n, "x-goog-") {
		return true
	}
	for _, part := range []string{"token", "secret", "signature", "key", "password", "credential", "auth"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// RedactURL returns raw with userinfo and the values of credential-like query parameters
// replaced, safe for errors and logs. Unparseable input is reduced to its scheme and host
// when they can be found, else to a placeholder: it may be a URL that leaks a key.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL]"
	}
	return redactURL(u)
}

func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(redacted)
	}
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = redacted
		} else {
			for k, vs := range q {
				if sensitiveParam(k) {
					for i := range vs {
						vs[i] = redacted
					}
				}
			}
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

// scrubber replaces secret values in text. It knows the configured secrets and the last
// few tokens the client used, each in the forms it may take inside a message: raw,
// query-escaped (form bodies, URLs), path-escaped and JSON-escaped (echoed bodies).
type scrubber struct {
	mu     sync.RWMutex
	fixed  []string // configured secrets (raw)
	recent []string // recent tokens (raw), newest last
	forms  []string // every form of every value, longest first
	// rep replaces every form in one pass over the text: a marker already written is never
	// searched again (a one-letter token once turned "[REDACTED]" into "[RED[REDACTED]CTED]").
	rep *strings.Replacer
}

const maxRecentTokens = 4

func newScrubber(secrets []string) *scrubber {
	s := &scrubber{}
	s.add(secrets...)
	return s
}

// addToken remembers a token in use so errors never echo it.
func (s *scrubber) addToken(tok string) {
	if tok == "" {
		return
	}
	s.mu.RLock()
	known := slices.Contains(s.recent, tok)
	s.mu.RUnlock()
	if known {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recent = append(s.recent, tok)
	if len(s.recent) > maxRecentTokens {
		s.recent = slices.Delete(s.recent, 0, len(s.recent)-maxRecentTokens)
	}
	s.rebuild()
}

func (s *scrubber) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if v != "" && !slices.Contains(s.fixed, v) {
			s.fixed = append(s.fixed, v)
		}
	}
	s.rebuild()
}

// rebuild lists every encoding of every value, longest first, so that a secret which
// contains another is replaced whole rather than leaving its tail behind.
func (s *scrubber) rebuild() {
	s.forms = s.forms[:0]
	for _, v := range slices.Concat(s.fixed, s.recent) {
		forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
		if b, err := json.Marshal(v); err == nil && len(b) >= 2 {
			forms = append(forms, string(b[1:len(b)-1]))
		}
		for _, f := range forms {
			if f != "" && !slices.Contains(s.forms, f) {
				s.forms = append(s.forms, f)
			}
		}
	}
	slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })
	// At each position the Replacer tries the forms in this order: the longest match wins.
	pairs := make([]string, 0, 2*len(s.forms))
	for _, f := range s.forms {
		pairs = append(pairs, f, redacted)
	}
	s.rep = strings.NewReplacer(pairs...)
}

func (s *scrubber) scrub(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.rep == nil {
		return text
	}
	return s.rep.Replace(text)
}
