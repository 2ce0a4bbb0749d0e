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
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/ferry-dev/ferry/internal/sandbox/scim"
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
// FERRY_CRASH_USERS and FERRY_CRASHES override them.
func scale() (users, crashes int) {
	users, crashes = 20_000, 6
	if os.Getenv("FERRY_LONG") != "" {
		users, crashes = 100_000, 12
	}
	if n, err := strconv.Atoi(os.Getenv("FERRY_CRASH_USERS")); err == nil && n > 0 {
		users = n
	}
	if n, err := strconv.Atoi(os.Getenv("FERRY_CRASHES")); err == nil && n >= 0 {
		crashes = n
	}
	return users, crashes
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

// target is a tenant a campaign writes to, read back for the audit.
type target interface {
	endpoint() string
	env() map[string]string
	// keys returns one key per stored user: the key the audit matches source users on.
	keys(t *testing.T) []string
	// sourceKey is the key a source user would have in this target.
	sourceKey(p profile) string
	requestCount() int64
	injector() *faults.Injector
	stats() *served
	// count is the number of users stored now (kill points follow it).
	count() int
}

// served counts requests and answers by status, behind optional fault injection: the
// counter sits inside the injector, so it sees what the tenant itself answered (429 from
// its rate limiter, 401 for an expired token) and the injector counts what it broke.
type served struct {
	inj      *faults.Injector
	requests atomic.Int64
	status   [600]atomic.Int64
	tokens   atomic.Int64 // token grants
	url      string
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func serve(t *testing.T, h http.Handler, faultSpec string, hooks faults.Hooks) *served {
	t.Helper()
	sv := &served{}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sv.requests.Add(1)
		if strings.HasSuffix(r.URL.Path, "/oauth/token") {
			sv.tokens.Add(1)
		}
		sw := &statusWriter{ResponseWriter: w}
		inner.ServeHTTP(sw, r)
		if sw.code > 0 && sw.code < len(sv.status) {
			sv.status[sw.code].Add(1)
		}
	})
	if faultSpec != "" {
		fc, err := faults.Parse(faultSpec)
		if err != nil {
			t.Fatal(err)
		}
		sv.inj = faults.New(h, fc, hooks)
		h = sv.inj
	}
	sv.url = ferrytest.Serve(t, h)
	return sv
}

func (sv *served) requestCount() int64 {
	if sv.inj != nil {
		return sv.inj.Stats().Requests
	}
	return sv.requests.Load()
}
func (sv *served) injector() *faults.Injector { return sv.inj }
func (sv *served) stats() *served             { return sv }

// tenant is a running in-process Auth0 tenant (a source, or a target keyed by email: the
// key Auth0's import matches users on; a re-linked user may change its user_id).
type tenant struct {
	*served
	srv *auth0.Server
	ep  string
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
	sv := serve(t, s.Handler(), o.faults, faults.Hooks{})
	return &tenant{served: sv, srv: s, ep: s.Endpoint(sv.url)}
}

func (tn *tenant) endpoint() string { return tn.ep }
func (tn *tenant) env() map[string]string {
	return map[string]string{"AUTH0_CLIENT_ID": clientID, "AUTH0_CLIENT_SECRET": clientSecret}
}
func (tn *tenant) sourceKey(p profile) string { return strings.ToLower(p.Email) }
func (tn *tenant) count() int                 { return tn.srv.Count() }
func (tn *tenant) keys(t *testing.T) []string {
	var out []string
	for _, p := range profiles(t, tn.srv.Users()) {
		out = append(out, strings.ToLower(p.Email))
	}
	return out
}

// scimTarget is an in-process SCIM service provider keyed by externalId, which ferry sets
// to the source user_id.
type scimTarget struct {
	*served
	srv   *scim.Server
	audit string // the same store served without faults, for reading back
}

const scimToken = "crash-test-scim-token-do-not-print-0123456789"

// scimRoles lets the first run create the source's roles as SCIM Groups: a SCIM target's
// preflight requires the groups users belong to, and the memberships written after the
// users are then crashed and resumed too.
var scimRoles = []string{"--create-missing-roles"}

// startSCIM starts the target; storm is the share of requests answered 429 Too Many
// Requests (without Retry-After: the client must back off on its own).
func startSCIM(t *testing.T, faultSpec string, storm float64) *scimTarget {
	t.Helper()
	s, err := scim.New(scim.Config{Token: scimToken, BasePath: "/scim/v2"})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if storm > 0 {
		h = faults.New(h, faults.Config{Rate5xx: storm, Status: http.StatusTooManyRequests, Seed: 11}, faults.Hooks{ErrorBody: scim.ErrorBody})
	}
	return &scimTarget{
		served: serve(t, h, faultSpec, faults.Hooks{ErrorBody: scim.ErrorBody}),
		srv:    s,
		audit:  ferrytest.Serve(t, s.Handler()),
	}
}

// endpoint lifts the sink's default pacing (50 requests/s, a polite default for a real
// provider) which would make the test measure the pacer.
func (st *scimTarget) endpoint() string           { return "scim+" + st.url + "/scim/v2?rps=2000" }
func (st *scimTarget) env() map[string]string     { return map[string]string{"SCIM_TOKEN": scimToken} }
func (st *scimTarget) sourceKey(p profile) string { return p.UserID }
func (st *scimTarget) count() int                 { return st.srv.Len() }

// groupTarget is a target whose memberships the audit checks.
type groupTarget interface {
	auditGroups(t *testing.T, src *tenant)
}

// auditGroups: every source role is a group holding as many members as the role has
// (every user was written: the memberships of the runs that died were finished by the
// later ones, none added twice).
func (st *scimTarget) auditGroups(t *testing.T, src *tenant) {
	t.Helper()
	total := 0
	for role, n := range src.srv.RoleMembers() {
		total += n
		got, ok := st.srv.GroupMembers(role)
		if !ok {
			t.Errorf("role %q is no group in the target", role)
			continue
		}
		distinct := len(slices.Compact(slices.Sorted(slices.Values(got))))
		if len(got) != n || distinct != n {
			t.Errorf("group %q holds %d members (%d distinct), the role %d", role, len(got), distinct, n)
		}
	}
	if total == 0 {
		t.Error("the source has no role members: the memberships were not audited")
	}
}

// keys pages through GET /Users as any SCIM client would.
func (st *scimTarget) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	userNames := map[string]bool{}
	for start := 1; ; {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/scim/v2/Users?startIndex=%d&count=200&attributes=userName,externalId", st.audit, start), nil)
		req.Header.Set("Authorization", "Bearer "+scimToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			TotalResults int `json:"totalResults"`
			Resources    []struct {
				UserName   string `json:"userName"`
				ExternalID string `json:"externalId"`
			} `json:"Resources"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("audit GET /Users: %d %v", resp.StatusCode, err)
		}
		for _, r := range page.Resources {
			if userNames[strings.ToLower(r.UserName)] {
				t.Errorf("target holds userName %q twice", r.UserName)
			}
			userNames[strings.ToLower(r.UserName)] = true
			out = append(out, r.ExternalID)
		}
		start += len(page.Resources)
		if len(page.Resources) == 0 || start > page.TotalResults {
			break
		}
	}
	if len(out) != st.srv.Len() {
		t.Errorf("paging read %d users, the store holds %d", len(out), st.srv.Len())
	}
	return out
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
	Read        int64  `json:"read"`
	Written     int64  `json:"written"`
	Created     int64  `json:"created"`
	Updated     int64  `json:"updated"`
	Rejected    int64  `json:"rejected"`
	Skipped     int64  `json:"skipped"`
	Cursor      string `json:"cursor"`
	Interrupted bool   `json:"interrupted"`
	Status      int    `json:"exit_status"`
	Error       string `json:"error"`
}

type state struct {
	Cursor string `json:"cursor"`
	Done   bool   `json:"done"`
}

// crashRun is the record of one crash campaign.
type crashRun struct {
	Crashes   int // kills and graceful stops (signals) that ended a run early
	Signals   int // of which graceful stops
	Runs      int
	Cursors   []string
	Final     summary
	Rejects   map[string]reject // by source ref, across every run's rejects file
	RejectDup int               // refs rejected in more than one run (replays of a batch)
	Modes     map[int]string
	// Conflicts are the rejections, in any run, because the target already held the
	// user: into an empty target, each is a user this migration wrote reported as failed.
	Conflicts []string
	Elapsed   time.Duration // of the final run
}

// Kill modes. The first three are the original campaign's; the others are the ones a
// run without --upsert must survive without misreporting (issue 14).
const (
	modeWhileWriting = iota // SIGKILL once the target holds a random number of new users
	modeAfterState          // SIGKILL 0-400 ms after the state file's cursor moves
	modeEarly               // SIGKILL 0.1-2.5 s after the start
	modeFirstSecond         // SIGKILL 0-1 s after the start: before any 2 s timer fires
	modeAfterCommit         // SIGKILL at the first poll after a journal commit line
	modeSIGINT              // SIGINT while writing: a graceful stop, state saved, exit 3
	modeSIGTERM             // SIGTERM likewise
)

var defaultModes = []int{modeWhileWriting, modeAfterState, modeEarly}

// campaignOpts say how a campaign runs ferry.
type campaignOpts struct {
	crashes int
	upsert  bool
	modes   []int // cycled; default defaultModes
	extra   []string
	// span is how long a clean run takes: kills "in the first second" land inside it.
	span time.Duration
}

// killPoint picks when to kill a run, in one of three ways by turn:
//   - while it writes: once the target holds a random number of new users, up to a
//     third of what is left (a kill with batches and jobs in flight);
//   - just after a checkpoint: 0-400 ms after the state file's cursor moves (a checkpoint
//     that ran ahead of what is durable shows up here);
//   - early: 0.1-2.5 s after the start, during discovery, export jobs and the first reads.
//
// Every mode also kills once the target holds a third of what was left, so that a run
// that never checkpoints (it is quicker than the interval) cannot finish with crashes
// still owed.
func killPoint(rng *rand.Rand, mode int, statePath string, dst target, total int, span time.Duration) (func() bool, string) {
	have := dst.count()
	enough := have + max(1, (total-have)/3)
	switch mode {
	case modeWhileWriting, modeSIGINT, modeSIGTERM:
		part := 3
		if mode != modeWhileWriting {
			part = 10 // a graceful stop drains what was read: stop early, leave work to kill
		}
		at := have + 1 + rng.IntN(max(1, (total-have)/part))
		what := map[int]string{modeWhileWriting: "while writing", modeSIGINT: "SIGINT while writing", modeSIGTERM: "SIGTERM while writing"}[mode]
		return func() bool { return dst.count() >= at }, what
	case modeFirstSecond:
		start := time.Now()
		within := time.Second
		if span > 0 {
			within = min(within, span*3/4)
		}
		after := time.Duration(rng.Int64N(int64(within)))
		return func() bool { return time.Since(start) >= after }, "in the first second"
	case modeAfterCommit:
		// The journal the last run left ends in a commit too: wait for this run's own.
		jpath := statePath + ".journal"
		var size int64 = -1
		if fi, err := os.Stat(jpath); err == nil {
			size = fi.Size()
		}
		return func() bool {
			fi, err := os.Stat(jpath)
			if err == nil && fi.Size() != size {
				size = fi.Size()
				if lastLineIsCommit(jpath) {
					return true
				}
			}
			return dst.count() >= enough
		}, "right after a journal commit"
	case modeAfterState:
		before := stateCursor(statePath)
		extra := time.Duration(rng.IntN(400)) * time.Millisecond
		var seen time.Time
		return func() bool {
			if seen.IsZero() {
				if stateCursor(statePath) != before {
					seen = time.Now()
				}
				return dst.count() >= enough
			}
			return time.Since(seen) >= extra
		}, "after a checkpoint"
	default:
		start := time.Now()
		after := time.Duration(100+rng.IntN(2400)) * time.Millisecond
		return func() bool { return time.Since(start) >= after || dst.count() >= enough }, "early"
	}
}

// campaign runs `ferry migrate` against src/dst until it finishes, killing it at least
// minCrashes times first. Each run writes its own rejects file: ferry truncates the one it
// is given (see TestResumeKeepsRejectsFile).
func campaign(t *testing.T, rng *rand.Rand, src *tenant, dst target, minCrashes int, extra ...string) crashRun {
	t.Helper()
	return campaignWith(t, rng, src, dst, campaignOpts{crashes: minCrashes, upsert: true, extra: extra})
}

// campaignWith is campaign with its options spelled out.
func campaignWith(t *testing.T, rng *rand.Rand, src *tenant, dst target, o campaignOpts) crashRun {
	t.Helper()
	minCrashes, extra := o.crashes, o.extra
	modes := o.modes
	if len(modes) == 0 {
		modes = defaultModes
	}
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	env := src.env()
	for k, v := range dst.env() {
		env[k] = v
	}
	cr := crashRun{Rejects: map[string]reject{}, Modes: map[int]string{}}
	total := src.count()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no finished run after %d runs and %d crashes", cr.Runs, cr.Crashes)
		}
		cr.Runs++
		rejects := filepath.Join(dir, fmt.Sprintf("rejects-%02d.ndjson", cr.Runs))
		args := []string{"migrate", "--from", src.endpoint(), "--to", dst.endpoint()}
		if o.upsert {
			args = append(args, "--upsert")
		}
		args = append(append(args, "--resume", statePath, "--rejects", rejects, "--json", "--no-progress"), extra...)
		c := ferrytest.Cmd{Bin: bin, Args: args, Env: env, Dir: dir, Timeout: 3 * time.Minute}
		crashing := cr.Crashes < minCrashes
		mode := modes[cr.Crashes%len(modes)]
		if crashing {
			c.KillWhen, cr.Modes[mode] = killPoint(rng, mode, statePath, dst, total, o.span)
			switch mode {
			case modeSIGINT:
				c.Signal = os.Interrupt
			case modeSIGTERM:
				c.Signal = syscall.SIGTERM
			}
		}
		res := ferrytest.MustRun(t, c)
		for _, r := range readRejects(t, rejects) {
			if r.Reason == "" {
				t.Errorf("run %d: reject %s has no reason", cr.Runs, r.Ref)
			}
			if strings.Contains(r.Reason, "exists in target") {
				cr.Conflicts = append(cr.Conflicts, r.Ref)
			}
			if _, dup := cr.Rejects[r.Ref]; dup {
				cr.RejectDup++
			}
			cr.Rejects[r.Ref] = r
		}
		cr.Cursors = append(cr.Cursors, stateCursor(statePath))
		if res.Killed {
			cr.Crashes++
			t.Logf("run %d: killed %s after %v; target holds %d; cursor %q", cr.Runs, cr.Modes[mode], res.Elapsed.Round(time.Millisecond), dst.count(), stateCursor(statePath))
			continue
		}
		if res.Signalled && res.Code == 3 {
			// A graceful stop: what was read is drained, the state saved, exit 3 (aborted:
			// interrupted), and the summary says where it stopped.
			cr.Crashes++
			cr.Signals++
			var sum summary
			if err := json.Unmarshal([]byte(lastLine(res.Stdout)), &sum); err != nil {
				t.Fatalf("run %d: %s: summary: %v\n%s", cr.Runs, cr.Modes[mode], err, res.Stdout)
			}
			if sum.Status != 3 || !sum.Interrupted || !strings.Contains(res.Stderr, "interrupted") {
				t.Errorf("run %d: %s: exit %d, summary %+v: want exit 3, interrupted", cr.Runs, cr.Modes[mode], res.Code, sum)
			}
			if sum.Cursor != "" && stateCursor(statePath) != sum.Cursor {
				t.Errorf("run %d: %s: state file cursor %q, the summary says it stopped at %q: the state was not saved", cr.Runs, cr.Modes[mode], stateCursor(statePath), sum.Cursor)
			}
			if sum.Read != sum.Written+sum.Rejected+sum.Skipped {
				t.Errorf("run %d: %s: interrupted summary does not add up: %+v", cr.Runs, cr.Modes[mode], sum)
			}
			t.Logf("run %d: stopped by %s after %v; target holds %d; summary %+v", cr.Runs, cr.Modes[mode], res.Elapsed.Round(time.Millisecond), dst.count(), sum)
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
		cr.Elapsed = res.Elapsed
		t.Logf("run %d: finished in %v: %+v", cr.Runs, res.Elapsed.Round(time.Millisecond), cr.Final)
		var st state
		b, _ := os.ReadFile(statePath)
		if err := json.Unmarshal(b, &st); err != nil || !st.Done {
			t.Errorf("state file after the final run: done=%v err=%v: %s", st.Done, err, b)
		}
		return cr
	}
}

// lastLineIsCommit says whether the journal's last complete line is a commit.
func lastLineIsCommit(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	off := max(0, fi.Size()-4096)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return false
	}
	buf = bytes.TrimRight(buf, "\n")
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	}
	return bytes.HasPrefix(buf, []byte(`{"commit"`))
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
// the source (duplicates).
func audit(t *testing.T, src *tenant, dst target, cr crashRun) (lost, dups int) {
	t.Helper()
	if g, ok := dst.(groupTarget); ok && len(cr.Rejects) == 0 {
		g.auditGroups(t, src)
	}
	srcUsers := profiles(t, src.srv.Users())
	inTarget := map[string]int{}
	targetKeys := dst.keys(t)
	for _, k := range targetKeys {
		inTarget[k]++
	}
	bySourceKey := map[string][]string{}
	srcIDs := make(map[string]bool, len(srcUsers))
	var lostIDs []string
	for _, u := range srcUsers {
		srcIDs[u.UserID] = true
		k := dst.sourceKey(u)
		bySourceKey[k] = append(bySourceKey[k], u.UserID)
		if _, ok := cr.Rejects[u.UserID]; ok {
			continue
		}
		if k == "" || inTarget[k] == 0 {
			lostIDs = append(lostIDs, u.UserID)
		}
	}
	sort.Strings(lostIDs)
	if len(lostIDs) > 0 {
		t.Errorf("%d source users neither in the target nor in a rejects file, e.g. %v", len(lostIDs), lostIDs[:min(5, len(lostIDs))])
	}
	// Two source users with one key (an email shared in Auth0) cannot both be written:
	// one must be rejected, or the second silently overwrote the first.
	for k, ids := range bySourceKey {
		written := 0
		for _, id := range ids {
			if _, ok := cr.Rejects[id]; !ok {
				written++
			}
		}
		if k != "" && written > 1 {
			lost += written - 1
			t.Errorf("source users %v share the key %q and %d of them were written over each other", ids, k, written)
		}
	}
	for k, n := range inTarget {
		if n > 1 {
			dups += n - 1
			t.Errorf("target holds %q %d times", k, n)
		}
		if len(bySourceKey[k]) == 0 {
			dups++
			t.Errorf("target holds %q, which is not in the source", k)
		}
	}
	for ref := range cr.Rejects {
		if !srcIDs[ref] {
			t.Errorf("rejects file names %s, who is not in the source", ref)
		}
	}
	t.Logf("source %d, target %d, rejected %d (%d rejected in two runs), lost %d, duplicates %d",
		len(srcUsers), len(targetKeys), len(cr.Rejects), cr.RejectDup, len(lostIDs)+lost, dups)
	f := cr.Final
	if f.Read != f.Written+f.Rejected+f.Skipped {
		t.Errorf("final summary does not add up: %+v", f)
	}
	if f.Written != f.Created+f.Updated {
		t.Errorf("final summary: written %d != created %d + updated %d", f.Written, f.Created, f.Updated)
	}
	return len(lostIDs) + lost, dups
}

// TestCrashResume is the harness at CI scale: 20,000 users from an Auth0 tenant
// (export job) to a SCIM service provider with --upsert, at least six SIGKILLs, then the
// audit.
func TestCrashResume(t *testing.T) {
	t.Parallel() // the campaigns mostly wait on each other's subprocesses and polls
	users, crashes := scale()
	rng := rand.New(rand.NewPCG(seed(t), 1))
	src := startAuth0(t, tenantOpts{users: users})
	dst := startSCIM(t, "", 0)
	cr := campaign(t, rng, src, dst, crashes, scimRoles...)
	check(t, "auth0->scim", users, crashes, cr, src, dst)
}

// TestCrashResumeFaults is the same under a hostile network: the target answers 5xx,
// drops connections, truncates bodies and answers 429 to one request in ten; the source
// fails too, its tokens live 3 seconds (several expire in every run), and its endpoints
// sit behind small rate-limit buckets.
//
// Half the users by default (faults make every run slower), an eighth under -race; all of
// them with FERRY_LONG.
func TestCrashResumeFaults(t *testing.T) {
	t.Parallel()
	users, crashes := scale()
	if os.Getenv("FERRY_LONG") == "" && os.Getenv("FERRY_CRASH_USERS") == "" {
		users /= 2
		if raceEnabled {
			// The race-instrumented sandboxes make each faulty run minutes long; CI runs
			// this campaign small under -race, full size without it.
			users /= 4
		}
	}
	rng := rand.New(rand.NewPCG(seed(t), 2))
	src := startAuth0(t, tenantOpts{users: users, ttl: 3 * time.Second, faults: "5xx=0.03,drop=0.01,truncate=0.01,seed=3",
		buckets: map[string]auth0.Bucket{auth0.BucketOther: {Burst: 10, PerSecond: 40}, auth0.BucketUsersRead: {Burst: 10, PerSecond: 40}}})
	dst := startSCIM(t, "5xx=0.05,drop=0.02,truncate=0.02,seed=5", 0.1)
	cr := campaign(t, rng, src, dst, crashes, scimRoles...)
	check(t, "auth0->scim with faults", users, crashes, cr, src, dst)
}

// TestCrashResumeAuth0Target crashes a migration into Auth0 (import jobs, matched by
// email on --upsert). Auth0 imports are slow by nature (2 jobs at once, polled), so this
// one is smaller unless FERRY_LONG is set. Auth0 rejects users (linked identities of
// other connections), so a clean run into a second tenant first tells which users a
// target rejects: a user missing from the crashed target and from every rejects file is
// lost if the clean run wrote it, and a lost reject line if the clean run rejected it.
func TestCrashResumeAuth0Target(t *testing.T) {
	t.Parallel()
	users, crashes := scale()
	users /= 10
	crashes = 3 // each run is seconds of polling: more would not fit CI
	rng := rand.New(rand.NewPCG(seed(t), 3))
	src := startAuth0(t, tenantOpts{users: users})
	ref := campaign(t, rng, src, startAuth0(t, tenantOpts{}), 0)
	dst := startAuth0(t, tenantOpts{})
	cr := campaign(t, rng, src, dst, crashes)
	if cr.Crashes < crashes {
		t.Errorf("only %d crashes happened, want %d", cr.Crashes, crashes)
	}
	// Move the users the clean run rejected, but no crashed run recorded, aside.
	var lostLines []string
	for id, r := range ref.Rejects {
		if _, ok := cr.Rejects[id]; !ok {
			lostLines = append(lostLines, id)
			cr.Rejects[id] = r
		}
	}
	sort.Strings(lostLines)
	lost, dups := audit(t, src, dst, cr)
	report(t, "auth0->auth0", users, cr, lost, dups, src, dst)
	if len(lostLines) > 0 {
		t.Errorf("%d rejected users are in no rejects file after the crashes (e.g. %v): the logs must reach the disk before the checkpoint moves past their records",
			len(lostLines), lostLines[:min(3, len(lostLines))])
	}
}

func check(t *testing.T, name string, users, crashes int, cr crashRun, src *tenant, dst target) {
	t.Helper()
	if cr.Crashes < crashes {
		t.Errorf("only %d crashes happened, want %d", cr.Crashes, crashes)
	}
	lost, dups := audit(t, src, dst, cr)
	report(t, name, users, cr, lost, dups, src, dst)
}

// report logs one line of figures for RELIABILITY.md (go test -v shows it).
func report(t *testing.T, name string, users int, cr crashRun, lost, dups int, tenants ...target) {
	var st faults.Stats
	for _, tn := range tenants {
		in := tn.injector()
		if in == nil {
			continue
		}
		s := in.Stats()
		st.Requests += s.Requests
		st.Errors += s.Errors
		st.Drops += s.Drops
		st.Truncates += s.Truncates
	}
	var reqs, r429, r401, tokens int64
	for _, tn := range tenants {
		reqs += tn.requestCount()
		sv := tn.stats()
		r429 += sv.status[429].Load()
		r401 += sv.status[401].Load()
		tokens += sv.tokens.Load()
	}
	t.Logf("FIGURES %s: users=%d runs=%d crashes=%d requests=%d faults(5xx=%d drop=%d truncate=%d) 429=%d 401=%d token-grants=%d rejected=%d lost=%d duplicates=%d",
		name, users, cr.Runs, cr.Crashes, reqs, st.Errors, st.Drops, st.Truncates, r429, r401, tokens, len(cr.Rejects), lost, dups)
}
