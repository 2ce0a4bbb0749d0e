package interop

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInteropUserNameCase: userName is caseExact false (RFC 7643 §4.1.1), so a source
// user whose userName differs from a target user's only in case is the same user. The
// elimity-com/scim server finds it by `userName eq` whatever the case and ferry --upsert
// updates it. SCIMMY compares eq case-sensitively (1.3.5), so ferry's lookup finds
// nothing and the create meets a 409: ferry rejects that user with a reason naming it,
// the counts add up, and the target keeps its one user. Never a second user, never a
// silent drop.
func TestInteropUserNameCase(t *testing.T) {
	const stored, incoming = "Case.User@Example.org", "case.user@example.org"
	file := filepath.Join(t.TempDir(), "in.ndjson")
	rec := `{"schemas":["` + coreUserURN + `"],"userName":"` + incoming + `","displayName":"From the source"}` + "\n"
	if err := os.WriteFile(file, []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind     string
		rejected bool
	}{{"elimity", false}, {"scimmy", true}} {
		t.Run(c.kind, func(t *testing.T) {
			s := start(t, c.kind)
			u := map[string]any{"schemas": []any{coreUserURN}, "userName": stored, "displayName": "On the target"}
			if _, err := s.call(http.MethodPost, "Users", u, nil); err != nil {
				t.Fatal(err)
			}
			m := migrate(t, file, s.target(), "--upsert")
			res, sum, rejects := m.res, m.sum, m.rejects
			users := s.list(t, "Users")
			if len(users) != 1 {
				t.Fatalf("%s holds %d users, want the one", c.kind, len(users))
			}
			switch {
			case c.rejected:
				if res.Code != 1 || sum.Rejected != 1 || !strings.Contains(rejects, incoming) || !strings.Contains(rejects, "409") {
					t.Errorf("exit %d %+v, rejects %s; want exit 1, the user rejected with the 409 named", res.Code, sum, rejects)
				}
				if users[0]["displayName"] != "On the target" {
					t.Errorf("the target's user changed: %v", users[0])
				}
			default:
				if res.Code != 0 || sum.Written != 1 {
					t.Errorf("exit %d %+v, want the user written (updated)", res.Code, sum)
				}
				if users[0]["displayName"] != "From the source" {
					t.Errorf("the target's user was not updated: %v", users[0])
				}
			}
		})
	}
}
