// Package crash kills a running migration with SIGKILL at random points, resumes it with
// the same command each time, and then compares the target with the source user by user:
// every source user is in the target or in a rejects file with a reason, nothing is in the
// target twice, and the final summary adds up.
//
// The tenants run in the test process (so the test reads their stores directly); ferry runs
// as a subprocess built from this tree. Kill points come from a seeded PRNG
// (FERRY_CRASH_SEED to replay one), half of them a random time after a start and half a
// random moment after ferry wrote its state file (the window where a checkpoint can run
// ahead of what is durable).
package crash

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/ferry-dev/ferry/test/internal/ferrytest"
	"github.com/segmentio/encoding/json"
)

var bin string

func TestMain(m *testing.M) { ferrytest.Main(m, &bin) }

// Credentials both tenants accept: ferry reads one AUTH0_CLIENT_ID/SECRET for source and
// target alike.
const (
	clientID     = "crash-test-client-0123456789abcdef"
	clientSecret = "crash-test-secret-do-not-print-0123456789abcdef0123456789abcdef"
)

// scale is the number of users and the minimum number of crashes; FERRY_LONG=1 makes both
// larger.
func scale() (users, crashes int) {
	if os.Getenv("FERRY_LONG") != "" {
		return 100_000, 12
	}
	return 20_000, 6
}

func seed(t *testing.T) uint64 {
	if s := os.Getenv("FERRY_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FERRY_CRASH_SEED: %v", err)
		}
		return n
	}
	return 20260407
}

// tenant is a running in-process Auth0 tenant.
type tenant struct {
	srv      *auth0.Server
	inj      *faults.Injector
	endpoint string
	requests atomic.Int64
}

type tenantOpts struct {
	users   int
	faults  string
	ttl     time.Duration
	buckets map[string]auth0.Bucket
}

func startAuth0(t *testing.T, o tenantOpts) *tenant {
	t.Helper()
	s, err := auth0.New(auth0.Config{
		Users: o.users, Seed: 7, Nasty: 0.05, Plan: "none", Buckets: o.buckets,
		ClientID: clientID, ClientSecret: clientSecret, TokenTTL: o.ttl,
		ExportDelay: 200 * time.Millisecond, ImportDelay: 30 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	tn := &tenant{srv: s}
	var h http.Handler = s.Handler()
	if o.faults != "" {
		fc, err := faults.Parse(o.faults)
		if err != nil {
			t.Fatal(err)
		}
		// The token endpoint is left alone: a lost token answer is retried like any other,
		// but with 5% of them failing, the test would mostly measure token retries.
		tn.inj = faults.New(h, fc, faults.Hooks{})
		h = tn.inj
	}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn.requests.Add(1)
		inner.ServeHTTP(w, r)
	})
	base := ferrytest.Serve(t, h)
	tn.endpoint = s.Endpoint(base)
	return tn
}

// profile is what the comparison reads of an Auth0 user.
type profile struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
}

func profiles(t *testing.T, raws []json.RawMessage) []profile {
	t.Helper()
	out := make([]profile, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("tenant user %d: %v", i, err)
		}
	}
	return out
}

// reject is one line of a rejects file.
type reject struct {
	Ref    string `json:"ref"`
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

func readRejects(t *testing.T, path string) []reject {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []reject
	lines := bytes.Split(b, []byte("\n"))
	for n, line := range lines {
		if len(line) == 0 {
			continue
		}
		var r reject
		if err := json.Unmarshal(line, &r); err != nil {
			if n == len(lines)-1 {
				continue // a kill cut the last line short: only the last may be
			}
			t.Fatalf("%s line %d: %v", path, n+1, err)
		}
		out = append(out, r)
	}
	return out
}

// summary is ferry's --json output.
type summary struct {
	Read     int64  `json:"read"`
	Written  int64  `json:"written"`
	Created  int64  `json:"created"`
	Updated  int64  `json:"updated"`
	Rejected int64  `json:"rejected"`
	Skipped  int64  `json:"skipped"`
	Cursor   string `json:"cursor"`
	Status   int    `json:"exit_status"`
	Error    string `json:"error"`
}

type state struct {
	Cursor string `json:"cursor"`
	Done   bool   `json:"done"`
}

// crashRun is the record of one crash campaign.
type crashRun struct {
	Crashes   int
	Runs      int
	Cursors   []string
	Final     summary
	Rejects   map[string]reject // by source ref, across every run's rejects file
	RejectDup int               // refs rejected in more than one run (replays of a batch)
}

// campaign runs `ferry migrate` against src/dst until it finishes, killing it at least
// minCrashes times first. Each run writes its own rejects file: ferry truncates the one it
// is given (see TestResumeKeepsRejectsFile).
func campaign(t *testing.T, rng *rand.Rand, src, dst *tenant, minCrashes int, extra ...string) crashRun {
	t.Helper()
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	env := map[string]string{"AUTH0_CLIENT_ID": clientID, "AUTH0_CLIENT_SECRET": clientSecret}
	cr := crashRun{Rejects: map[string]reject{}}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no finished run after %d runs and %d crashes", cr.Runs, cr.Crashes)
		}
		cr.Runs++
		rejects := filepath.Join(dir, fmt.Sprintf("rejects-%02d.ndjson", cr.Runs))
		args := append([]string{"migrate", "--from", src.endpoint, "--to", dst.endpoint, "--upsert",
			"--resume", statePath, "--rejects", rejects, "--json", "--no-progress"}, extra...)
		c := ferrytest.Cmd{Bin: bin, Args: args, Env: env, Dir: dir, Timeout: 3 * time.Minute}
		crashing := cr.Crashes < minCrashes
		if crashing {
			if rng.IntN(2) == 0 {
				c.KillAfter = time.Duration(1500+rng.IntN(3000)) * time.Millisecond
			} else {
				// Just after a checkpoint: wait for the state file to change, then a little.
				before := stateCursor(statePath)
				extra := time.Duration(rng.IntN(400)) * time.Millisecond
				var seen time.Time
				c.KillWhen = func() bool {
					if seen.IsZero() {
						if stateCursor(statePath) != before {
							seen = time.Now()
						}
						return false
					}
					return time.Since(seen) >= extra
				}
			}
		}
		res := ferrytest.MustRun(t, c)
		for _, r := range readRejects(t, rejects) {
			if r.Reason == "" {
				t.Errorf("run %d: reject %s has no reason", cr.Runs, r.Ref)
			}
			if _, dup := cr.Rejects[r.Ref]; dup {
				cr.RejectDup++
			}
			cr.Rejects[r.Ref] = r
		}
		cr.Cursors = append(cr.Cursors, stateCursor(statePath))
		if res.Killed {
			cr.Crashes++
			t.Logf("run %d: killed after %v at cursor %q", cr.Runs, res.Elapsed.Round(time.Millisecond), stateCursor(statePath))
			continue
		}
		if res.Code != 0 && res.Code != 1 {
			t.Fatalf("run %d: exit %d\nstdout: %s\nstderr: %s", cr.Runs, res.Code, res.Stdout, ferrytest.Tail(res.Stderr, 3000))
		}
		if err := json.Unmarshal([]byte(lastLine(res.Stdout)), &cr.Final); err != nil {
			t.Fatalf("run %d: summary: %v\n%s", cr.Runs, err, res.Stdout)
		}
		if crashing {
			// It finished before the kill: with crashes still owed, start over would be
			// pointless; accept and report the shortfall.
			t.Logf("run %d finished before its kill point (%v)", cr.Runs, res.Elapsed.Round(time.Millisecond))
		}
		t.Logf("run %d: finished in %v: %+v", cr.Runs, res.Elapsed.Round(time.Millisecond), cr.Final)
		var st state
		b, _ := os.ReadFile(statePath)
		if err := json.Unmarshal(b, &st); err != nil || !st.Done {
			t.Errorf("state file after the final run: done=%v err=%v: %s", st.Done, err, b)
		}
		return cr
	}
}

func stateCursor(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var st state
	if json.Unmarshal(b, &st) != nil {
		return "(torn)"
	}
	return st.Cursor
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// audit compares the tenants: it returns the number of source users neither in the target
// nor rejected (lost), and the number of target users present more than once or not from
// the source (duplicates). Auth0 keys an imported user by email (the import matches on it,
// and a re-linked user may change its user_id), so the comparison does too.
func audit(t *testing.T, src, dst *tenant, cr crashRun) (lost, dups int) {
	t.Helper()
	srcUsers := profiles(t, src.srv.Users())
	dstUsers := profiles(t, dst.srv.Users())
	inTarget := map[string]int{}
	for _, u := range dstUsers {
		inTarget[strings.ToLower(u.Email)]++
	}
	srcEmails := map[string][]string{}
	var lostIDs []string
	for _, u := range srcUsers {
		e := strings.ToLower(u.Email)
		srcEmails[e] = append(srcEmails[e], u.UserID)
		if _, ok := cr.Rejects[u.UserID]; ok {
			continue
		}
		if e == "" || inTarget[e] == 0 {
			lostIDs = append(lostIDs, u.UserID)
		}
	}
	sort.Strings(lostIDs)
	if len(lostIDs) > 0 {
		t.Errorf("%d source users neither in the target nor in a rejects file, e.g. %v", len(lostIDs), lostIDs[:min(5, len(lostIDs))])
	}
	// Two source users sharing an email cannot both be written to Auth0: one must be
	// rejected, or the second silently overwrote the first.
	for e, ids := range srcEmails {
		if e == "" || len(ids) < 2 {
			continue
		}
		written := 0
		for _, id := range ids {
			if _, ok := cr.Rejects[id]; !ok {
				written++
			}
		}
		if written > 1 {
			lost += written - 1
			t.Errorf("source users %v share email %s and %d of them were written over each other", ids, e, written)
		}
	}
	for e, n := range inTarget {
		if n > 1 {
			dups += n - 1
			t.Errorf("target holds email %s %d times", e, n)
		}
		if len(srcEmails[e]) == 0 {
			dups++
			t.Errorf("target holds %s, who is not in the source", e)
		}
	}
	srcIDs := make(map[string]bool, len(srcUsers))
	for _, u := range srcUsers {
		srcIDs[u.UserID] = true
	}
	for ref := range cr.Rejects {
		if !srcIDs[ref] {
			t.Errorf("rejects file names %s, who is not in the source", ref)
		}
	}
	t.Logf("source %d, target %d, rejected %d (%d rejected in two runs), lost %d, duplicates %d",
		len(srcUsers), len(dstUsers), len(cr.Rejects), cr.RejectDup, len(lostIDs)+lost, dups)
	f := cr.Final
	if f.Read != f.Written+f.Rejected+f.Skipped {
		t.Errorf("final summary does not add up: %+v", f)
	}
	if f.Written != f.Created+f.Updated {
		t.Errorf("final summary: written %d != created %d + updated %d", f.Written, f.Created, f.Updated)
	}
	return len(lostIDs) + lost, dups
}

// TestCrashResume is the harness at CI scale: 20,000 users from an Auth0 tenant to
// another, at least six SIGKILLs, then the audit.
func TestCrashResume(t *testing.T) {
	users, crashes := scale()
	rng := rand.New(rand.NewPCG(seed(t), 1))
	src := startAuth0(t, tenantOpts{users: users})
	dst := startAuth0(t, tenantOpts{})
	cr := campaign(t, rng, src, dst, crashes)
	if cr.Crashes < crashes {
		t.Errorf("only %d crashes happened, want %d", cr.Crashes, crashes)
	}
	lost, dups := audit(t, src, dst, cr)
	report(t, "auth0->auth0", users, cr, lost, dups, nil, src, dst)
}

// TestCrashResumeFaults is the same under a hostile network: the target answers 5xx,
// drops connections and truncates bodies; tokens live 3 seconds on both sides; the
// target's job endpoints sit behind a small rate-limit bucket (429 storms).
func TestCrashResumeFaults(t *testing.T) {
	users, crashes := scale()
	rng := rand.New(rand.NewPCG(seed(t), 2))
	src := startAuth0(t, tenantOpts{users: users, ttl: 3 * time.Second, faults: "5xx=0.03,drop=0.01,truncate=0.01,seed=3"})
	dst := startAuth0(t, tenantOpts{ttl: 3 * time.Second, faults: "5xx=0.05,drop=0.02,truncate=0.02,seed=5",
		buckets: map[string]auth0.Bucket{auth0.BucketOther: {Burst: 8, PerSecond: 20}, auth0.BucketUsersRead: {Burst: 20, PerSecond: 50}}})
	cr := campaign(t, rng, src, dst, crashes)
	if cr.Crashes < crashes {
		t.Errorf("only %d crashes happened, want %d", cr.Crashes, crashes)
	}
	lost, dups := audit(t, src, dst, cr)
	report(t, "auth0->auth0 with faults", users, cr, lost, dups, []*faults.Injector{src.inj, dst.inj}, src, dst)
}

// report logs one line of figures for RELIABILITY.md (go test -v shows it).
func report(t *testing.T, name string, users int, cr crashRun, lost, dups int, injs []*faults.Injector, tenants ...*tenant) {
	var st faults.Stats
	for _, in := range injs {
		if in == nil {
			continue
		}
		s := in.Stats()
		st.Requests += s.Requests
		st.Errors += s.Errors
		st.Drops += s.Drops
		st.Truncates += s.Truncates
	}
	var reqs int64
	for _, tn := range tenants {
		reqs += tn.requests.Load()
	}
	t.Logf("FIGURES %s: users=%d runs=%d crashes=%d requests=%d faults(5xx=%d drop=%d truncate=%d) rejected=%d lost=%d duplicates=%d",
		name, users, cr.Runs, cr.Crashes, reqs, st.Errors, st.Drops, st.Truncates, len(cr.Rejects), lost, dups)
}
