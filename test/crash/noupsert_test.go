package crash

import (
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/sandbox/appid"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/segmentio/encoding/json"
)

// appIDTarget is an in-process App ID instance. Profiles are keyed by their first
// identity's id: App ID issues profile ids of its own, an e-mail may belong to several
// profiles, and an identity is what its import refuses as taken.
type appIDTarget struct {
	*served
	srv *appid.Server
	ep  string
}

func startAppID(t *testing.T) *appIDTarget {
	t.Helper()
	// The applications are registered, as in a real instance (ferry does not create OAuth
	// clients); the scopes and roles come from the source in the first run's preflight.
	var apps []appid.AppSeed
	seen := map[string]bool{}
	for _, p := range gen.Catalog(7).Scopes { // startAuth0's seed
		if !seen[p.Resource] {
			seen[p.Resource] = true
			apps = append(apps, appid.AppSeed{Name: p.Resource})
		}
	}
	s, err := appid.New(appid.Config{Applications: apps})
	if err != nil {
		t.Fatal(err)
	}
	sv := serve(t, s.Handler(), "", faults.Hooks{})
	return &appIDTarget{served: sv, srv: s, ep: s.Endpoint(sv.url)}
}

func (at *appIDTarget) endpoint() string { return at.ep }
func (at *appIDTarget) env() map[string]string {
	return map[string]string{"IBMCLOUD_API_KEY": at.srv.Credentials().APIKey}
}
func (at *appIDTarget) count() int { n, _ := at.srv.UserCount(); return n }

// sourceKey: an Auth0 user_id is provider|id, and the id becomes the App ID identity's.
func (at *appIDTarget) sourceKey(p profile) string {
	_, id, _ := strings.Cut(p.UserID, "|")
	return id
}

func (at *appIDTarget) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, raw := range at.srv.Profiles() {
		var p struct {
			Identities []struct {
				ID json.RawMessage `json:"id"`
			} `json:"identities"`
		}
		if err := json.Unmarshal(raw, &p); err != nil || len(p.Identities) == 0 {
			t.Fatalf("App ID profile without identities: %s", raw)
		}
		out = append(out, strings.Trim(string(p.Identities[0].ID), `"`))
	}
	return out
}

// exactlyOnceModes are the kills and stops every exactly-once campaign goes through, in
// turn: inside the first second (before any timer could have saved a state), right after
// a journal commit, mid-batch, and the two graceful stops.
//
// The graceful stops come early: a stop drains what was read, which near the end of a
// small migration is all of it, and would leave no run to kill.
var exactlyOnceModes = []int{modeFirstSecond, modeSIGINT, modeSIGTERM, modeAfterCommit, modeWhileWriting}

// TestCrashExactlyOnce is issue 14: a migration into SCIM, Auth0 and App ID targets,
// killed and stopped in every way of exactlyOnceModes and re-run with the same command
// each time, with and without --upsert. Without --upsert, the users written before a
// crash are in the target when the next run sends them again: they must be recognised as
// this migration's, not reported as conflicts. The audit checks the target user by user
// (no loss, no duplicate) and the final summary and exit status against those of one clean
// run into a fresh target of the same kind (no misreport).
//
// CI scale keeps the whole campaign under a minute with -race on two cores;
// FERRY_LONG=1 (or FERRY_CRASH_USERS / FERRY_CRASHES) runs it larger.
func TestCrashExactlyOnce(t *testing.T) {
	users, crashes := scale() // 20,000 and 6 by default
	long := os.Getenv("FERRY_LONG") != "" || os.Getenv("FERRY_CRASH_USERS") != ""
	if !long {
		users, crashes = 4000, len(exactlyOnceModes)
	}
	if os.Getenv("FERRY_CRASHES") == "" {
		crashes = max(crashes, len(exactlyOnceModes))
	}
	for _, tc := range []struct {
		name   string
		users  int
		target func(t *testing.T) target
		extra  []string
	}{
		{"scim", users, func(t *testing.T) target { return startSCIM(t, "", 0) }, scimRoles},
		// Import jobs are slow by nature (2 at once, polled): fewer users.
		// Small import files and two writers (Auth0 runs two jobs at once anyway), so that a
		// run holds several jobs to kill it between and a graceful stop drains little (the
		// sink paces itself at 10 requests a second on a tenant that sends no rate-limit
		// headers, which makes these runs the slowest).
		{"auth0", users * 3 / 8, func(t *testing.T) target { return startAuth0(t, tenantOpts{}) }, []string{"--batch-size", "100", "--concurrency", "2"}},
		// The source's roles are created in App ID by the first run (its preflight);
		// App ID takes 50 users a request at 50 requests a second.
		{"appid", users, func(t *testing.T) target { return startAppID(t) }, []string{"--create-missing-roles"}},
	} {
		for _, upsert := range []bool{false, true} {
			name := tc.name + "/upsert=" + strconv.FormatBool(upsert)
			t.Run(name, func(t *testing.T) {
				if upsert && tc.name == "auth0" && !long {
					// The slowest campaign; TestCrashResumeAuth0Target covers --upsert into
					// Auth0 at CI scale.
					t.Skip("Auth0 with --upsert: FERRY_LONG=1 runs it")
				}
				t.Parallel()
				rng := rand.New(rand.NewPCG(seed(t), uint64(len(name))))
				src := startAuth0(t, tenantOpts{users: tc.users})
				o := campaignOpts{upsert: upsert, modes: exactlyOnceModes, extra: tc.extra}
				ref := campaignWith(t, rng, src, tc.target(t), o)
				dst := tc.target(t)
				o.crashes, o.span = crashes, ref.Elapsed
				cr := campaignWith(t, rng, src, dst, o)
				if cr.Crashes < crashes {
					t.Errorf("only %d crashes happened, want %d", cr.Crashes, crashes)
				}
				lost, dups := audit(t, src, dst, cr)
				// Auth0's upsert import cannot tell a user it re-imported unchanged from one
				// it updated: there only the written total is the clean run's.
				mis := misreported(t, ref, cr, !(upsert && tc.name == "auth0"))
				report(t, "exactly-once auth0->"+name, tc.users, cr, lost, dups, src, dst)
				t.Logf("FIGURES exactly-once auth0->%s: users=%d crashes=%d (signals %d) lost=%d duplicates=%d misreported=%d",
					name, tc.users, cr.Crashes, cr.Signals, lost, dups, mis)
			})
		}
	}
}

// misreported compares a crashed campaign's final summary with the clean run's (with
// split, the created/updated split too), and
// counts the users reported otherwise: counts that differ, and rejections because the
// target held the user (into a target that was empty, every such user is this
// migration's). A different exit status is an error of its own.
func misreported(t *testing.T, ref, cr crashRun, split bool) int {
	t.Helper()
	a, b := ref.Final, cr.Final
	abs := func(x int64) int {
		if x < 0 {
			return int(-x)
		}
		return int(x)
	}
	mis := abs(a.Written-b.Written) + abs(a.Rejected-b.Rejected) + abs(a.Skipped-b.Skipped)
	if a.Read != b.Read || a.Written != b.Written || split && (a.Created != b.Created || a.Updated != b.Updated) ||
		a.Rejected != b.Rejected || a.Skipped != b.Skipped {
		t.Errorf("after %d crashes the summary is %+v; one clean run says %+v", cr.Crashes, b, a)
	}
	if a.Status != b.Status {
		t.Errorf("after %d crashes the exit status is %d; one clean run's is %d", cr.Crashes, b.Status, a.Status)
	}
	if a.Rejected == 0 && b.Status != 0 {
		t.Errorf("every user is in the target, but the exit status is %d", b.Status)
	}
	// A user is misreported when a run called it a conflict, or when it is rejected after
	// the crashes but not by the clean run.
	wrong := map[string]bool{}
	for _, id := range cr.Conflicts {
		wrong[id] = true
	}
	for id := range cr.Rejects {
		if _, ok := ref.Rejects[id]; !ok {
			wrong[id] = true
		}
	}
	if len(wrong) > 0 {
		ids := make([]string, 0, len(wrong))
		for id := range wrong {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		t.Errorf("%d users reported as conflicts or rejected only after the crashes (%d conflicts), e.g. %v", len(ids), len(cr.Conflicts), ids[:min(5, len(ids))])
	}
	var missing []string
	for id := range ref.Rejects {
		if _, ok := cr.Rejects[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d users the clean run rejects are in no rejects file after the crashes, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	return mis + len(wrong)
}
