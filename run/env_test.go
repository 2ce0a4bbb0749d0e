package run

import "testing"

// TestEndEnv: each end reads its own credentials when FERRY_FROM_ / FERRY_TO_ names are
// set, and the provider's names otherwise.
func TestEndEnv(t *testing.T) {
	vars := map[string]string{
		"SCIM_TOKEN": "shared", "FERRY_FROM_SCIM_TOKEN": "source-only",
		"AUTH0_CLIENT_SECRET": "both", "FERRY_TO_APPID_APIKEY": "target-only",
	}
	getenv := func(k string) string { return vars[k] }
	tests := []struct {
		name, from, to string
	}{
		{"SCIM_TOKEN", "source-only", "shared"},
		{"AUTH0_CLIENT_SECRET", "both", "both"},
		{"APPID_APIKEY", "", "target-only"},
		{"UNSET", "", ""},
	}
	for _, tc := range tests {
		if got := SourceEnv(getenv)(tc.name); got != tc.from {
			t.Errorf("source %s = %q, want %q", tc.name, got, tc.from)
		}
		if got := TargetEnv(getenv)(tc.name); got != tc.to {
			t.Errorf("target %s = %q, want %q", tc.name, got, tc.to)
		}
	}
	if SourceEnv(nil) != nil {
		t.Error("no environment must stay none (the connectors say so)")
	}
}
