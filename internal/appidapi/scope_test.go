package appidapi

import (
	"strings"
	"testing"
)

func TestScope(t *testing.T) {
	tests := map[string]string{
		"read:users":                "read_users",
		"Write:Reports":             "write_reports",
		"billing.read":              "billing.read",
		"openid":                    "x_openid",
		"appid_default":             "x_appid_default",
		"é:x":                       "__x", // one rune, one underscore
		strings.Repeat("a", 60):     strings.Repeat("a", 49),
		"delete:users/{id}/devices": "delete_users__id__devices",
	}
	for in, want := range tests {
		if got := Scope(in); got != want {
			t.Errorf("Scope(%q) = %q, want %q", in, got, want)
		}
	}
}
