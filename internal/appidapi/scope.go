// Package appidapi holds what ferry knows of IBM Cloud App ID's management API that more
// than one package needs (the sink, the roles catalog, the sandbox).
package appidapi

import "strings"

// Scope spells a scope the way App ID accepts it: lowercase alphanumerics, '.' and
// '_', under 50 characters, not starting with "appid" or "openid". Auth0 permissions such
// as "read:users" become "read_users". Distinct long names could meet after the cut; the
// preflight's diff after creation would show that rather than hide it.
func Scope(s string) string {
	out := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, s)
	if strings.HasPrefix(out, "appid") || strings.HasPrefix(out, "openid") {
		out = "x_" + out
	}
	if len(out) > 49 {
		out = out[:49]
	}
	return out
}
