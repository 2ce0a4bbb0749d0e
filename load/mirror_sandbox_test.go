package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/pipeline"
	sbappid "github.com/ferry-dev/ferry/internal/sandbox/appid"
	sandbox "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

// The sandbox tests run mirror mode the way a nightly clone does: the source had N users
// and was copied; it has since lost some; the next run copies it again (every remaining
// user is rejected as existing: no --upsert) and mirror mode must remove exactly the lost
// ones, and only with the guards satisfied.

// mirrorProbe is what the tests read of an Auth0 user.
type mirrorProbe struct {
	UserID     json.RawMessage `json:"user_id"`
	Identities []struct {
		Connection string `json:"connection"`
	} `json:"identities"`
}

// mirrorRecs is a Source over fixed records.
type mirrorRecs struct {
	format string
	recs   [][]byte
}

func (s *mirrorRecs) Name() string   { return "mirror-test" }
func (s *mirrorRecs) Format() string { return s.format }
func (s *mirrorRecs) Users(_ context.Context, emit func(core.Record) error) error {
	for i, r := range s.recs {
		if err := emit(core.Record{Data: r, Ref: fmt.Sprintf("record %d", i+1), Cursor: fmt.Sprint(i + 1)}); err != nil {
			return err
		}
	}
	return nil
}

// collectKeys is the pipeline Observe hook of cmd/ferry's mirror mode, for the tests.
func collectKeys(k *KeepSet) func(*schemas.User, []transform.Change, error) {
	return func(u *schemas.User, _ []transform.Change, _ error) {
		if u.UserName == "" {
			k.Incomplete(u.Ref())
			return
		}
		k.Add(u.UserName)
		for _, e := range u.Emails {
			k.Add(e.Value)
		}
		if u.Ferry != nil {
			k.Add(u.Ferry.SourceID)
		}
	}
}

// copyRun runs the real pipeline from recs into sink and returns the source keys.
func copyRun(t *testing.T, format string, recs [][]byte, sink core.Sink) (pipeline.Summary, *KeepSet) {
	t.Helper()
	dec, err := transform.DecoderFor(format)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := transform.EncoderFor(sink.Format())
	if err != nil {
		t.Fatal(err)
	}
	keep := NewKeepSet()
	sum, err := pipeline.Run(context.Background(), pipeline.Config{
		Source: &mirrorRecs{format: format, recs: recs}, Sink: sink,
		Work: &transform.Work{Decoder: dec, Encoder: enc,
			Validate: func(u *schemas.User) error { return schemas.Violations(schemas.Validate(u)).Err() }},
		Workers: 2, Concurrency: 2, Observe: collectKeys(keep),
	})
	if err != nil {
		t.Fatalf("pipeline: %v (%+v)", err, sum)
	}
	return sum, keep
}

// userNameOf decodes a record's userName as the pipeline would.
func userNameOf(t *testing.T, format string, rec []byte) string {
	t.Helper()
	dec, _ := transform.DecoderFor(format)
	u, err := dec.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(u.UserName)
}

func candidateNames(r MirrorReport) []string {
	var out []string
	for _, u := range r.Users {
		out = append(out, strings.ToLower(u.UserName))
	}
	slices.Sort(out)
	return out
}

// without returns recs less the ones at idx, and the userNames of those.
func without(t *testing.T, format string, recs [][]byte, idx ...int) ([][]byte, []string) {
	var rest [][]byte
	var gone []string
	for i, r := range recs {
		if slices.Contains(idx, i) {
			gone = append(gone, userNameOf(t, format, r))
			continue
		}
		rest = append(rest, r)
	}
	slices.Sort(gone)
	return rest, gone
}

// listerOf lists the sandbox at endpoint as migrate --mirror does: through the Source for
// the endpoint, scoped by the sink (run.targetLister).
func listerOf(t *testing.T, endpoint string, sink core.Sink, getenv ...string) core.Lister {
	t.Helper()
	scope, err := sink.(core.Mirrored).MirrorScope()
	if err != nil {
		t.Fatal(err)
	}
	if len(scope) > 0 {
		endpoint += "&" + scope.Encode()
	}
	src, err := extract.Open(context.Background(), endpoint, core.Options{Getenv: env(getenv...)})
	if err != nil {
		t.Fatal(err)
	}
	return src.(core.Lister)
}

// mirrorSteps runs dry run, refusal over the limit, then the forced run, and checks each
// against gone; held reports how many users the target holds (active ones for SCIM).
func mirrorSteps(t *testing.T, list core.Lister, sink core.Sink, keep *KeepSet, gone []string, held func() int, cfg MirrorConfig) MirrorReport {
	t.Helper()
	ctx := context.Background()
	before := held()

	dry := cfg
	dry.DryRun, dry.MaxDelete = true, len(gone)-1
	rep, err := Mirror(ctx, list, sink, keep, dry)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := candidateNames(rep); !slices.Equal(got, gone) {
		t.Fatalf("dry run lists %v, want %v", got, gone)
	}
	if !rep.OverLimit || held() != before {
		t.Fatalf("dry run: over limit %v, target %d -> %d users", rep.OverLimit, before, held())
	}

	refuse := cfg
	refuse.MaxDelete = len(gone) - 1
	if _, err := Mirror(ctx, list, sink, keep, refuse); !errors.Is(err, ErrMirrorRefused) {
		t.Fatalf("over --max-delete: %v", err)
	}
	if held() != before {
		t.Fatalf("a refused mirror changed the target: %d -> %d users", before, held())
	}

	force := cfg
	force.MaxDelete, force.Force = 1, true
	rep, err = Mirror(ctx, list, sink, keep, force)
	if err != nil {
		t.Fatalf("forced: %v", err)
	}
	if got := candidateNames(rep); !slices.Equal(got, gone) || rep.Removed != len(gone) || rep.Failed != 0 {
		t.Fatalf("forced run: %v removed %d failed %d, want %v", got, rep.Removed, rep.Failed, gone)
	}
	if after := held(); after != before-len(gone) {
		t.Fatalf("target holds %d users, want %d", after, before-len(gone))
	}
	return rep
}

func TestMirrorSCIMSandbox(t *testing.T) {
	recs := scimUsers(60)
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprint("delete=", del), func(t *testing.T) {
			e := newSCIMEnv(t, sbscim.Config{DefaultPageSize: 25, MaxPageSize: 25}, "")
			sink := e.sink(t, false, 4)
			// A user the target holds that the source never had, created by hand.
			extra := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"hand.made@example.org"}`)
			if sum, _ := copyRun(t, core.FormatSCIM, append(slices.Clone(recs), extra), sink); sum.Created != int64(len(recs)+1) {
				t.Fatalf("seed: %+v", sum)
			}
			rest, gone := without(t, core.FormatSCIM, recs, 3, 17, 41)
			gone = append(gone, "hand.made@example.org")
			slices.Sort(gone)
			sum, keep := copyRun(t, core.FormatSCIM, rest, sink)
			if sum.Skipped != int64(len(rest)) || sum.Rejected != 0 {
				// The target holds them as ferry would write them: no conflict (core.Verifier).
				t.Fatalf("second run should find every user unchanged in the target: %+v", sum)
			}
			active := func() int {
				n := 0
				for _, r := range recs {
					id, ok := e.srv.UserByName(userNameOf(t, core.FormatSCIM, r))
					if !ok {
						continue
					}
					raw, _ := e.srv.User(id)
					var u struct {
						Active *bool `json:"active"`
					}
					_ = json.Unmarshal(raw, &u)
					if u.Active == nil || *u.Active {
						n++
					}
				}
				if _, ok := e.srv.UserByName("hand.made@example.org"); ok {
					n++ // active unless deactivated; checked below
					id, _ := e.srv.UserByName("hand.made@example.org")
					raw, _ := e.srv.User(id)
					if strings.Contains(string(raw), `"active":false`) {
						n--
					}
				}
				return n
			}
			list := listerOf(t, "scim+"+e.url, sink, "SCIM_TOKEN", "tok")
			rep := mirrorSteps(t, list, sink, keep, gone, active, MirrorConfig{Delete: del})
			if del {
				if e.srv.Len() != len(recs)+1-len(gone) || rep.Action != "remove" {
					t.Errorf("delete: provider holds %d users, action %s", e.srv.Len(), rep.Action)
				}
				return
			}
			if e.srv.Len() != len(recs)+1 || rep.Action != "deactivate" {
				t.Errorf("deactivate must keep the accounts: provider holds %d, action %s", e.srv.Len(), rep.Action)
			}
			// The next night: nothing left to do, the deactivated users are not counted again.
			rep, err := Mirror(context.Background(), list, sink, keep, MirrorConfig{MaxDelete: 0})
			if err != nil || rep.Candidates != 0 || rep.AlreadyInactive != int64(len(gone)) {
				t.Errorf("second mirror: %v %+v", err, rep)
			}
		})
	}
}

func TestMirrorAppIDSandbox(t *testing.T) {
	recs := appIDUsers(130) // three pages of 50
	e := newAppIDEnv(t, sbappid.Config{}, "")
	sink := e.sink(t, false, "")
	if sum, _ := copyRun(t, core.FormatAppID, recs, sink); sum.Created != int64(len(recs)) {
		t.Fatalf("seed: %+v", sum)
	}
	// Lose three users that have an email (a profile without one cannot be matched, and
	// is kept).
	var idx []int
	for i, r := range recs {
		var p struct {
			Email string `json:"email"`
		}
		_ = json.Unmarshal(r, &p)
		if p.Email != "" && i%7 == 3 && len(idx) < 3 {
			idx = append(idx, i)
		}
	}
	rest, gone := without(t, core.FormatAppID, recs, idx...)
	sum, keep := copyRun(t, core.FormatAppID, rest, sink)
	if sum.Written != 0 {
		t.Fatalf("second run wrote users: %+v", sum)
	}
	held := func() int { n, _ := e.srv.UserCount(); return n }
	list := listerOf(t, e.srv.Endpoint(e.url), sink, "IBMCLOUD_API_KEY", e.srv.Credentials().APIKey)
	mirrorSteps(t, list, sink, keep, gone, held, MirrorConfig{})
}

func TestMirrorAuth0Sandbox(t *testing.T) {
	// Database users only: the sink imports into one database connection.
	var recs [][]byte
	for i := 0; len(recs) < 40; i++ {
		r := gen.Auth0(5, i, gen.Options{})
		var p mirrorProbe
		_ = json.Unmarshal(r, &p)
		if len(p.Identities) == 1 && p.Identities[0].Connection == DefaultConnection {
			recs = append(recs, r)
		}
	}
	tn := newTenant(t, sandbox.Config{EmptyCatalog: true})
	sink := tn.sink(t)
	if sum, _ := copyRun(t, core.FormatAuth0, recs, sink); sum.Created != int64(len(recs)) {
		t.Fatalf("seed: %+v", sum)
	}
	rest, gone := without(t, core.FormatAuth0, recs, 0, 20, 39)
	sum, keep := copyRun(t, core.FormatAuth0, rest, sink)
	if sum.Written != 0 {
		t.Fatalf("second run wrote users: %+v", sum)
	}
	mirrorSteps(t, tn.lister(t, sink), sink, keep, gone, tn.sb.Count, MirrorConfig{})
}

// lister lists the tenant's connection through the Auth0 Source.
func (tn *tenant) lister(t *testing.T, sink *Auth0) core.Lister {
	return listerOf(t, "auth0://sandbox?base="+url.QueryEscape(tn.srv.URL), sink, "AUTH0_TOKEN", tn.sb.Token())
}

// TestMirrorAuth0Export: past 1,000 users in the connection the listing goes through an
// export job; users of other connections are never touched.
func TestMirrorAuth0Export(t *testing.T) {
	if testing.Short() {
		t.Skip("1,600 users")
	}
	for _, tc := range []struct {
		users  int
		export bool
		capped bool // totals reported as at most 1,000 (sandbox.Config.CapTotals)
	}{{60, false, false}, {1600, true, false}, {1600, true, true}} {
		t.Run(fmt.Sprint(tc.users, "_capped=", tc.capped), func(t *testing.T) {
			var exports atomic.Int32
			tn := newTenant(t, sandbox.Config{Users: tc.users, Seed: 9, ExportDelay: 20 * time.Millisecond, CapTotals: tc.capped},
				func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.Method == http.MethodPost && r.URL.Path == "/api/v2/jobs/users-exports" {
							exports.Add(1)
						}
						h.ServeHTTP(w, r)
					})
				})
			sink := tn.sink(t)
			dec, _ := transform.DecoderFor(core.FormatAuth0)
			keep := NewKeepSet()
			var gone []string
			var goneIDs []string
			var other string
			dbN := 0
			for _, raw := range tn.sb.Users() {
				var p mirrorProbe
				if err := json.Unmarshal(raw, &p); err != nil {
					t.Fatal(err)
				}
				u, err := dec.Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				db := len(p.Identities) > 0 && p.Identities[0].Connection == DefaultConnection
				if db {
					dbN++
				}
				switch {
				case db && len(gone) < 3 && dbN%10 == 5:
					gone = append(gone, strings.ToLower(u.UserName))
					goneIDs = append(goneIDs, rawID(p.UserID))
					continue
				case !db && other == "":
					other = rawID(p.UserID) // gone from the source too, but not the sink's
					continue
				}
				collectKeys(keep)(u, nil, nil)
			}
			slices.Sort(gone)
			mirrorSteps(t, tn.lister(t, sink), sink, keep, gone, tn.sb.Count, MirrorConfig{})
			if (exports.Load() > 0) != tc.export {
				t.Errorf("%d export jobs, want export=%v", exports.Load(), tc.export)
			}
			for _, id := range goneIDs {
				if tn.sb.User(id) != nil {
					t.Errorf("%s still in the tenant", id)
				}
			}
			if other == "" || tn.sb.User(other) == nil {
				t.Errorf("user %q of another connection was removed (or none was found)", other)
			}
		})
	}
}
