// Package redact removes secrets from user records before they reach a rejects file, a
// change log or a message: password hashes, clear-text passwords, MFA secrets, tokens.
package redact

import (
	"strings"

	"github.com/segmentio/encoding/json"
)

// Marker replaces every secret value.
const Marker = "[REDACTED]"

// secretKeys are compared after lower-casing and dropping '_' and '-', so password_hash,
// passwordHash and Password-Hash are one key.
var secretKeys = map[string]bool{
	"password": true, "passwordhash": true, "custompasswordhash": true, "passwordhashalg": false,
	"mfafactors": true, "totpsecret": true, "secret": true, "clientsecret": true,
	"encryptionsecret": true, "recoverycode": true, "recoverycodes": true,
	"accesstoken": true, "refreshtoken": true, "idtoken": true, "apikey": true, "token": true,
}

// IsSecretKey reports whether a JSON member name holds a secret.
func IsSecretKey(name string) bool {
	k := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(name))
	return secretKeys[k]
}

// JSON returns raw with the value of every secret member, at any depth, replaced by Marker.
// Input that is not valid JSON is returned as nil, ok=false: the caller must not store it
// verbatim without deciding how.
func JSON(raw []byte) (out []byte, ok bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	if !walk(v) {
		return raw, true // nothing secret: keep the record byte for byte
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	return b, true
}

func walk(v any) (changed bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if (IsSecretKey(k) && val != nil) || isHashString(val) {
				x[k] = Marker
				changed = true
				continue
			}
			if walk(val) {
				changed = true
			}
		}
	case []any:
		for i, e := range x {
			if isHashString(e) {
				x[i] = Marker
				changed = true
				continue
			}
			if walk(e) {
				changed = true
			}
		}
	}
	return changed
}

func isHashString(v any) bool {
	s, ok := v.(string)
	return ok && LooksLikePasswordHash(s)
}

// hashPrefixes are the modular-crypt and LDAP prefixes of password hash formats.
var hashPrefixes = []string{"$2a$", "$2b$", "$2y$", "$2x$", "$argon2", "$scrypt$", "$pbkdf2", "$5$", "$6$", "{SSHA}", "{SSHA256}", "{SSHA512}", "{PBKDF2"}

// LooksLikePasswordHash recognises a password hash by its value, wherever a provider or a
// user stored it (a bcrypt hash kept under "legacy_hash" in metadata has no telling name).
func LooksLikePasswordHash(s string) bool {
	if len(s) < 20 || len(s) > 512 {
		return false
	}
	for _, p := range hashPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// String replaces every occurrence of each secret value in s.
func String(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, Marker)
		}
	}
	return s
}
