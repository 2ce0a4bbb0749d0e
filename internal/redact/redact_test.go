package redact

import (
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"email":"a@b.c","password_hash":"$2b$10$abc"}`, `{"email":"a@b.c","password_hash":"[REDACTED]"}`},
		{`{"urn:x":{"passwordHash":"h","passwordHashAlg":"bcrypt"}}`, `{"urn:x":{"passwordHash":"[REDACTED]","passwordHashAlg":"bcrypt"}}`},
		{`{"mfa_factors":[{"totp":{"secret":"S"}}],"x":[{"Client-Secret":"y"}]}`, `{"mfa_factors":"[REDACTED]","x":[{"Client-Secret":"[REDACTED]"}]}`},
		{`{"email":"a@b.c",  "n":1}`, `{"email":"a@b.c",  "n":1}`}, // untouched byte for byte
		// A hash recognised by its value, under a name that says nothing.
		{`{"app_metadata":{"legacy_hash":"$2b$10$abcdefghijklmnopqrstuv","old":["$argon2id$v=19$m=65536"]}}`,
			`{"app_metadata":{"legacy_hash":"[REDACTED]","old":["[REDACTED]"]}}`},
		{`{"price":"$20","note":"$2b$ is a prefix"}`, `{"price":"$20","note":"$2b$ is a prefix"}`}, // too short to be a hash
	}
	for _, tt := range tests {
		got, ok := JSON([]byte(tt.in))
		if !ok || string(got) != tt.want {
			t.Errorf("JSON(%s) = %s, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := JSON([]byte(`{"password":`)); ok {
		t.Error("invalid JSON reported ok")
	}
}

func TestString(t *testing.T) {
	got := String("auth failed for token abcd1234 and key zz", "abcd1234", "zz")
	if strings.Contains(got, "abcd1234") || !strings.Contains(got, "zz") {
		t.Errorf("String = %q: long secrets must go, too-short ones stay (they would mangle text)", got)
	}
}
