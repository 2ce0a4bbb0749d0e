package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/pipeline"
	sbauth0 "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

const (
	fixSource = "../fixtures/mirror/source.ndjson"
	fixLost   = "../fixtures/mirror/source-lost.ndjson"
	fixBroken = "../fixtures/mirror/source-broken.ndjson"
)

// lostUsers are the users fixLost no longer has.
var lostUsers = []string{"alan.turing@example.org", "grace.hopper@example.org"}

const testToken = "run-test-token"

// target is a sandbox SCIM provider the test holds directly, to read users back.
type target struct {
	srv      *sbscim.Server
	endpoint string
}

func newTarget(t *testing.T) *target {
	t.Helper()
	s, err := sbscim.New(sbscim.Config{Token: testToken, BasePath: "/scim/v2"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &target{srv: s, endpoint: "scim+" + ts.URL + "/scim/v2"}
}

// cloned is a target holding fixSource, copied by Migrate.
func cloned(t *testing.T) *target {
	t.Helper()
	tg := newTarget(t)
	if res, err := Migrate(context.Background(), testEnv(tg.getenv), testJob(fixSource, tg.endpoint)); err != nil || res.Written != 6 {
		t.Fatalf("clone: %v %+v", err, res)
	}
	return tg
}

func (tg *target) getenv(k string) string {
	if k == "SCIM_TOKEN" {
		return testToken
	}
	return ""
}

func (tg *target) sink(t *testing.T) core.Sink {
	t.Helper()
	dst, err := load.Open(context.Background(), tg.endpoint, core.Options{Getenv: tg.getenv})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// lister is the target listed as mirror mode lists it: through the SCIM Source.
func (tg *target) lister(t *testing.T, dst core.Sink) core.Lister {
	t.Helper()
	l, err := targetLister(context.Background(), testEnv(tg.getenv), tg.endpoint, dst, dst.(core.Mirrored))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// active reads the provider's users directly (not through ferry): userName -> active.
func (tg *target) active(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, id := range tg.srv.IDs() {
		raw, _ := tg.srv.User(id)
		var u struct {
			UserName string `json:"userName"`
			Active   *bool  `json:"active"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		out[u.UserName] = u.Active == nil || *u.Active
	}
	return out
}

// countActive counts the users active in a map from active.
func countActive(m map[string]bool) int {
	return len(slices.DeleteFunc(slices.Collect(maps.Values(m)), func(a bool) bool { return !a }))
}

func testEnv(getenv func(string) string) Env {
	return Env{Getenv: getenv, Stdout: io.Discard, Log: io.Discard}
}

// testJob is what the command line makes of --from from --to to and no other flag.
func testJob(from, to string) Job {
	j := Job{From: from, To: to, Concurrency: 4, Policy: transform.DefaultPolicyConfig(), Rules: "auto", Mirror: Mirror{MaxDelete: DefaultMaxDelete}}
	j.Policy.PictureOverride = true
	return j
}

// namesOf reads a fixture through the real pipeline (dry run) with the collector as its
// Observe hook, as migrate does.
func namesOf(t *testing.T, path string, dst core.Sink) (*sourceNames, pipeline.Summary) {
	t.Helper()
	src, err := extract.Open(context.Background(), path, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := transform.DecoderFor(src.Format())
	enc, _ := transform.EncoderFor(dst.Format())
	names := newSourceNames()
	s, err := pipeline.Run(context.Background(), pipeline.Config{Source: src, Sink: dst,
		Work: &transform.Work{Decoder: dec, Encoder: enc, Validate: ValidateUser}, DryRun: true, Observe: names.observe})
	if err != nil {
		t.Fatal(err)
	}
	return names, s
}

func TestSourceNamesObserve(t *testing.T) {
	tg := cloned(t)
	dst := tg.sink(t)
	names, _ := namesOf(t, fixLost, dst)
	if ok, why := names.keep.Complete(); !ok {
		t.Fatalf("complete source marked partial: %s", why)
	}
	for _, k := range []string{"ADA.LOVELACE@example.org", "donald.knuth@example.org"} {
		if !names.keep.Has(k) {
			t.Errorf("%s not collected", k)
		}
	}
	for _, k := range lostUsers {
		if names.keep.Has(k) {
			t.Errorf("%s collected but not in the source", k)
		}
	}
	names, s := namesOf(t, fixBroken, dst)
	ok, why := names.keep.Complete()
	if ok || !strings.Contains(why, "line 3") || s.Rejected != 1 {
		t.Errorf("a truncated record must make the source partial: ok=%v why=%q summary %+v", ok, why, s)
	}
}

// TestRunMirrorGuards calls runMirror as migrate does after the pipeline, in every state a
// run can end in; only the last, complete and successful, may change the target.
func TestRunMirrorGuards(t *testing.T) {
	tg := cloned(t)
	dst := tg.sink(t)
	good, sum := namesOf(t, fixLost, dst)
	partial, _ := namesOf(t, fixBroken, dst)
	good.list, partial.list = tg.lister(t, dst), tg.lister(t, dst)
	sum.DryRun = false
	interrupted := sum
	interrupted.Interrupted = true
	srcErr := fmt.Errorf("source x: connection reset: %w", errors.New("read"))
	flags := Mirror{On: true, MaxDelete: 0, Force: true}
	tests := []struct {
		name    string
		names   *sourceNames
		sum     pipeline.Summary
		runErr  error
		wantErr error
		stderr  string
	}{
		{"source read failed", good, sum, srcErr, srcErr, "the run failed"},
		{"interrupted", good, interrupted, nil, core.ErrAborted, "interrupted"},
		{"interrupted with its error", good, interrupted, pipeline.ErrInterrupted, pipeline.ErrInterrupted, "interrupted"},
		{"undecodable record", partial, sum, nil, load.ErrMirrorRefused, "line 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var errb bytes.Buffer
			e := Env{Getenv: tg.getenv, Stdout: io.Discard, Log: &errb}
			_, err := runMirror(context.Background(), e, dst, tc.names, tc.sum, tc.runErr, flags, false)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if !errors.Is(err, core.ErrAborted) && !errors.Is(err, srcErr) {
				t.Errorf("%v: neither an abort nor the run's own error", err)
			}
			// What a person sees: runMirror's lines, then the error migrate prints.
			if seen := errb.String() + err.Error(); !strings.Contains(seen, tc.stderr) || !strings.Contains(seen, "nothing removed") {
				t.Errorf("stderr %q, error %q", errb.String(), err)
			}
			if n := countActive(tg.active(t)); n != 6 {
				t.Fatalf("%d active users left, want 6", n)
			}
		})
	}
	// The positive control: the same target, a complete run.
	var errb bytes.Buffer
	e := Env{Getenv: tg.getenv, Stdout: io.Discard, Log: &errb}
	rep, err := runMirror(context.Background(), e, dst, good, sum, nil, flags, false)
	if err != nil {
		t.Fatalf("complete run: %v\n%s", err, errb.String())
	}
	got := tg.active(t)
	for _, u := range lostUsers {
		if got[u] {
			t.Errorf("%s still active", u)
		}
	}
	if countActive(got) != 4 || len(got) != 6 || rep == nil || rep.Removed != 2 {
		t.Errorf("after mirror: %v, report %+v", got, rep)
	}
}

func TestMirrorPrepare(t *testing.T) {
	tg := newTarget(t)
	scim := tg.sink(t)
	dir := t.TempDir()
	file, err := load.Open(context.Background(), filepath.Join(dir, "out.ndjson"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cd, err := load.Open(context.Background(), "appid://us-south/t1?cloud_directory=true&base=http://127.0.0.1:1",
		core.Options{Getenv: func(k string) string {
			return map[string]string{"IBMCLOUD_API_KEY": "k", "APPID_ENCRYPTION_SECRET": "s"}[k]
		}})
	if err != nil {
		t.Fatal(err)
	}
	pending := filepath.Join(dir, "state.json")
	run := Job{From: fixLost, To: tg.endpoint, Resume: pending}
	if err := checkpoint.Save(pending, &checkpoint.State{From: endpoint.Redact(run.From), To: endpoint.Redact(run.To), Cursor: "n=2"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		m        Mirror
		f        Job
		dst      core.Sink
		wantErr  error
		partial  bool
		collects bool
	}{
		{name: "off", m: Mirror{MaxDelete: 10}, dst: scim},
		{name: "force without mirror", m: Mirror{Force: true}, dst: scim, wantErr: core.ErrUsage},
		{name: "mirror-delete without mirror", m: Mirror{Delete: true}, dst: scim, wantErr: core.ErrUsage},
		{name: "on", m: Mirror{On: true, MaxDelete: 10}, dst: scim, collects: true},
		{name: "negative max-delete", m: Mirror{On: true, MaxDelete: -1}, dst: scim, wantErr: core.ErrUsage},
		{name: "since", m: Mirror{On: true}, f: Job{Since: time.Now().Add(-24 * time.Hour)}, dst: scim, wantErr: core.ErrUsage},
		{name: "file target", m: Mirror{On: true}, dst: file, wantErr: core.ErrUsage},
		// Deleting a profile would leave the Cloud Directory user: the sink refuses.
		{name: "cloud directory target", m: Mirror{On: true}, dst: cd, wantErr: core.ErrUsage},
		{name: "pending checkpoint", m: Mirror{On: true}, f: run, dst: scim, collects: true, partial: true},
		{name: "pending checkpoint, dry run", m: Mirror{On: true}, f: func() Job { x := run; x.DryRun = true; return x }(), dst: scim, collects: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.f.To == "" {
				tc.f.To = tg.endpoint
			}
			names, err := tc.m.prepare(context.Background(), testEnv(tg.getenv), tc.f, tc.dst)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.dst == cd && (err == nil || !strings.Contains(err.Error(), "not Cloud Directory users")) {
				t.Fatalf("err %v, want the Cloud Directory refusal", err)
			}
			if (names != nil) != tc.collects {
				t.Fatalf("collector %v, want %v", names != nil, tc.collects)
			}
			if names != nil {
				if names.list == nil {
					t.Error("no lister for the target")
				}
				if ok, why := names.keep.Complete(); ok == tc.partial {
					t.Errorf("complete=%v (%s), want partial=%v", ok, why, tc.partial)
				}
			}
		})
	}
}

func TestObserveUndecodable(t *testing.T) {
	n := newSourceNames()
	n.observe(&schemas.User{UserName: "a", Emails: []schemas.MultiValued{{Value: "a@x"}}, Ferry: &schemas.FerryUser{SourceID: "auth0|1"}}, nil, nil)
	if ok, _ := n.keep.Complete(); !ok || !n.keep.Has("A@X") || !n.keep.Has("auth0|1") {
		t.Fatal("keys not collected")
	}
	// A user the target rejected is still in the source: observed with its error, kept.
	n.observe(&schemas.User{UserName: "rejected"}, nil, errors.New("409 exists"))
	if !n.keep.Has("REJECTED") {
		t.Error("rejected user not kept")
	}
	n.observe(&schemas.User{ID: "line 9"}, nil, errors.New("bad json"))
	if ok, why := n.keep.Complete(); ok || !strings.Contains(why, "line 9") {
		t.Errorf("undecodable record: ok=%v %q", ok, why)
	}
}

// TestMigrateMirrorAuth0 runs migrate --mirror into an Auth0 tenant end to end: the target
// is listed by the Auth0 Source scoped to the sink's connection (the default one here,
// since the endpoint names none) with the target's own credentials, so users of the
// tenant's other connections, gone from the source too, are never touched.
func TestMigrateMirrorAuth0(t *testing.T) {
	sb, err := sbauth0.New(sbauth0.Config{Users: 30, Seed: 4, EmptyCatalog: true, ImportDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sb.Handler())
	t.Cleanup(ts.Close)
	to := sb.Endpoint(ts.URL)
	vars := map[string]string{}
	for k, v := range sb.Env() {
		vars["FERRY_TO_"+k] = v // only the target's names: a lister reading AUTH0_* would fail
	}
	getenv := func(k string) string { return vars[k] }
	connOf := func(raw []byte) (id, conn string) {
		var p struct {
			UserID     string `json:"user_id"`
			Identities []struct {
				Connection string `json:"connection"`
			} `json:"identities"`
		}
		if err := json.Unmarshal(raw, &p); err != nil || len(p.Identities) == 0 {
			t.Fatalf("seeded user %s: %v", raw, err)
		}
		return p.UserID, p.Identities[0].Connection
	}
	var seededDB, others []string
	for _, raw := range sb.Users() {
		id, conn := connOf(raw)
		if conn == load.DefaultConnection {
			seededDB = append(seededDB, id)
		} else {
			others = append(others, id)
		}
	}
	if len(seededDB) == 0 || len(others) == 0 {
		t.Fatalf("seed: %d database users, %d of other connections; want both", len(seededDB), len(others))
	}

	job := testJob(fixSource, to)
	if res, err := Migrate(context.Background(), testEnv(getenv), job); err != nil || res.Written != 6 {
		t.Fatalf("clone: %v %+v", err, res)
	}
	job = testJob(fixLost, to)
	job.Mirror = Mirror{On: true, MaxDelete: 0, Force: true}
	res, err := Migrate(context.Background(), testEnv(getenv), job)
	if err != nil || res.Mirror == nil {
		t.Fatalf("mirror run: %v %+v", err, res)
	}
	// Gone from the source: the two lost users and every seeded database user.
	if want := len(lostUsers) + len(seededDB); res.Mirror.Removed != want || res.Mirror.Failed != 0 {
		t.Fatalf("removed %d (failed %d), want %d: %+v", res.Mirror.Removed, res.Mirror.Failed, want, res.Mirror.Users)
	}
	for _, id := range others {
		if sb.User(id) == nil {
			t.Errorf("user %s of another connection was removed", id)
		}
	}
	for _, id := range seededDB {
		if sb.User(id) != nil {
			t.Errorf("seeded database user %s is still there", id)
		}
	}
	left := map[string]bool{}
	for _, raw := range sb.Users() {
		var p struct {
			Email string `json:"email"`
		}
		_ = json.Unmarshal(raw, &p)
		left[p.Email] = true
	}
	for _, u := range lostUsers {
		if left[u] {
			t.Errorf("%s is still in the tenant", u)
		}
	}
	if n := sb.Count(); n != len(others)+6-len(lostUsers) {
		t.Errorf("tenant holds %d users, want %d", n, len(others)+6-len(lostUsers))
	}
}
