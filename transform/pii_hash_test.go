package transform

import (
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// A password hash kept in metadata under a name that says nothing is still a secret: the
// PII rule reports it and the change log never holds it.
func TestPIIPasswordHashInMetadata(t *testing.T) {
	const hash = "$2b$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
	for _, mode := range []string{PIIWarn, PIIRedact} {
		cfg := DefaultPolicyConfig()
		cfg.PII = mode
		ps, err := NewPolicies(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := &schemas.User{UserName: "a", Ferry: &schemas.FerryUser{AppMetadata: json.RawMessage(`{"legacy_hash":"` + hash + `"}`)}}
		var c Changes
		if err := ApplyAll(ps, u, &c); err != nil {
			t.Fatal(err)
		}
		log, _ := json.Marshal(c.List)
		if len(c.List) == 0 || strings.Contains(string(log), hash) {
			t.Errorf("%s: changes %s: want the hash reported, never logged", mode, log)
		}
		if mode == PIIRedact && strings.Contains(string(u.Ferry.AppMetadata), hash) {
			t.Errorf("redact left the hash in app_metadata: %s", u.Ferry.AppMetadata)
		}
	}
}
