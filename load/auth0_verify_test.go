package load

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	sandbox "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/schemas"
)

// TestAuth0Verify: users an import refuses as DUPLICATED_USER are marked Exists; Verify
// finds the ones the tenant holds as ferry would import them the same, names the fields
// of one that differs, and of one without its role: a conflict on roles, unless the user
// is in doubt (a crashed run of this migration imported it), when the role is assigned.
func TestAuth0Verify(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	users := []*schemas.User{mkUser(0), mkUser(1), mkUser(2, "viewer"), mkUser(3, "viewer")}
	// The tenant holds users 2 and 3 without their role: as a run killed between the
	// import job and the role assignment leaves them.
	bare := []*schemas.User{mkUser(0), mkUser(1), mkUser(2), mkUser(3)}
	if res := writeAll(t, tn.sink(t), encodeItems(t, bare)); countOutcomes(res)[core.Created] != 4 {
		t.Fatalf("seed: %+v", res)
	}
	sink := tn.sink(t)
	items := encodeItems(t, users)
	other := mkUser(1)
	other.Name.GivenName = "Someone Else"
	items[1] = encodeItems(t, []*schemas.User{other})[0]
	res := writeAll(t, sink, items)
	for i, r := range res {
		if r.Outcome != core.Rejected || !r.Exists || !strings.Contains(r.Reason, "DUPLICATED_USER") {
			t.Fatalf("user %d: %+v, want a DUPLICATED_USER refusal marked Exists", i, r)
		}
	}
	items[3].InDoubt = true
	got, err := sink.Verify(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	want := []core.Verdict{
		{Found: true, Same: true, TargetID: "auth0|src00000"},
		{Found: true, TargetID: "auth0|src00001", Diff: "given_name"},
		{Found: true, TargetID: "auth0|src00002", Diff: "roles"},
		{Found: true, Same: true, TargetID: "auth0|src00003"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("user %d: verdict %+v, want %+v", i, got[i], want[i])
		}
	}
	viewers := roleMembers(t, sink, "viewer")
	if viewers["auth0|src00002"] || !viewers["auth0|src00003"] {
		t.Errorf("viewer role members %v: want the user in doubt only", viewers)
	}
	// A user the tenant does not hold is not found.
	miss, err := sink.Verify(context.Background(), encodeItems(t, []*schemas.User{mkUser(9)}))
	if err != nil || miss[0].Found {
		t.Errorf("absent user: %+v, %v", miss, err)
	}
}
