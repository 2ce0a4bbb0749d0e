package auth0

import (
	"testing"
)

// BenchmarkExportBuild renders the export file of a 20,000-user tenant (the JSON format,
// with the field list the extract source asks for, and Auth0's default list).
//
//	go test ./internal/sandbox/auth0 -run '^$' -bench ExportBuild -benchtime 3x
func BenchmarkExportBuild(b *testing.B) {
	s, err := New(Config{Users: 20000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	snap := s.store.snapshot()
	named := []exportField{}
	for _, n := range []string{"user_id", "email", "email_verified", "username", "phone_number",
		"phone_verified", "name", "given_name", "family_name", "nickname", "picture", "locale",
		"created_at", "updated_at", "last_login", "last_ip", "logins_count", "blocked",
		"identities", "app_metadata", "user_metadata", "multifactor", "last_password_reset"} {
		named = append(named, exportField{Name: n})
	}
	for _, c := range []struct {
		name   string
		format string
		fields []exportField
	}{
		{"json-named-fields", "json", named},
		{"json-default", "json", nil},
		{"csv-default", "csv", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				j := &job{format: c.format, fields: c.fields, snapshot: snap}
				if _, err := j.build(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(snap))*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}
