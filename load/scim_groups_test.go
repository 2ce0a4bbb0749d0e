package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

// withRoles returns SCIM users whose i-th user holds roles(i).
func withRoles(t testing.TB, n int, roles func(int) []string) ([][]byte, []*schemas.User) {
	t.Helper()
	dec, _ := transform.DecoderFor(core.FormatSCIM)
	enc, _ := transform.EncoderFor(core.FormatSCIM)
	var recs [][]byte
	var users []*schemas.User
	for i, raw := range scimUsers(n) {
		u, err := dec.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range roles(i) {
			u.Roles = append(u.Roles, schemas.MultiValued{Value: r})
		}
		b, err := enc.Encode(nil, u)
		if err != nil {
			t.Fatal(err)
		}
		recs, users = append(recs, b), append(users, u)
	}
	return recs, users
}

func TestSCIMMemberships(t *testing.T) {
	roles := func(i int) []string {
		switch i % 3 {
		case 0:
			return []string{"Admins", "Ops"}
		case 1:
			return []string{"ops"} // matched to "Ops" as the provider compares names
		}
		return nil
	}
	cases := []struct {
		name     string
		groups   []string
		noGroups bool // the provider serves no /Groups
		rejected int
		reason   string
	}{
		{"groups exist", []string{"Admins", "Ops"}, false, 0, ""},
		{"a group is missing", []string{"Ops"}, false, 10, `group "Admins" does not exist`},
		{"no /Groups endpoint", nil, true, 20, `group "Admins" does not exist`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSCIMEnv(t, sbscim.Config{GroupPatchMembers: 3}, "")
			for _, g := range c.groups {
				if err := e.srv.AddGroup(g, nil); err != nil {
					t.Fatal(err)
				}
			}
			sink := e.sink(t, false, 2)
			if c.noGroups {
				srv := e.srv.Handler()
				e2 := newSCIMEnvHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.URL.Path, "/Groups") {
						http.NotFound(w, r)
						return
					}
					srv.ServeHTTP(w, r)
				}))
				sink = e2.sink(t, false, 2)
			}
			cat, err := sink.Roles(context.Background())
			if err != nil || len(cat.Roles) != len(c.groups) {
				t.Fatalf("Roles: %v %+v", err, cat)
			}
			recs, users := withRoles(t, 30, roles)
			sum, reasons := migrate(t, core.FormatSCIM, recs, sink, 2)
			if sum.Rejected != int64(c.rejected) {
				t.Fatalf("rejected %d, want %d: %v", sum.Rejected, c.rejected, first(reasons))
			}
			if c.reason != "" && !strings.Contains(first(reasons), c.reason) {
				t.Fatalf("reason %q, want %q", first(reasons), c.reason)
			}
			if e.srv.Len() != 30 {
				t.Fatalf("%d users in the provider, want 30: users are written even when a membership is not", e.srv.Len())
			}
			// Roles travel as memberships, not as a roles attribute.
			id, _ := e.srv.UserByName(users[0].UserName)
			if raw, _ := e.srv.User(id); strings.Contains(string(raw), `"roles"`) {
				t.Fatalf("user written with a roles attribute: %s", raw)
			}
			for _, g := range c.groups {
				var want []string
				for i, u := range users {
					if slices.ContainsFunc(roles(i), func(r string) bool { return strings.EqualFold(r, g) }) {
						want = append(want, u.UserName)
					}
				}
				slices.Sort(want)
				if got, _ := e.srv.GroupMembers(g); !slices.Equal(got, want) {
					t.Fatalf("group %s: %d members, want %d", g, len(got), len(want))
				}
			}
		})
	}
}

func newSCIMEnvHandler(t testing.TB, h http.Handler) *scimEnv {
	t.Helper()
	e := &scimEnv{rec: newRecorder(h)}
	ts := httptest.NewServer(e.rec)
	t.Cleanup(ts.Close)
	e.url = ts.URL + "/scim/v2"
	return e
}

// TestSCIMVerifyFinishesMemberships: a user in doubt (written by a run that died before
// its memberships) that the target holds as ferry would write it gets its groups then. A
// user not in doubt is not written to: it is the same only when it already holds its
// groups, and otherwise differs on groups.
func TestSCIMVerifyFinishesMemberships(t *testing.T) {
	_, plain := withRoles(t, 4, func(int) []string { return nil })
	var seeds []json.RawMessage
	for _, u := range plain {
		b, _ := json.Marshal(u)
		seeds = append(seeds, b)
	}
	e := newSCIMEnv(t, sbscim.Config{Users: seeds}, "")
	if err := e.srv.AddGroup("Admins", []string{plain[3].UserName}); err != nil {
		t.Fatal(err)
	}
	recs, users := withRoles(t, 4, func(int) []string { return []string{"Admins"} })
	items := make([]core.Item, len(recs))
	for i := range recs {
		items[i] = core.Item{Seq: int64(i), Data: recs[i], User: users[i], InDoubt: i < 2}
	}
	v, err := e.sink(t, false, 1).Verify(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	wantDiff := []string{"", "", "groups", ""} // user 2 is not in doubt and not a member
	for i, x := range v {
		if !x.Found || x.Same != (wantDiff[i] == "") || x.Diff != wantDiff[i] {
			t.Fatalf("verdict %d: %+v, want diff %q", i, x, wantDiff[i])
		}
	}
	got, _ := e.srv.GroupMembers("Admins")
	want := []string{users[0].UserName, users[1].UserName, users[3].UserName}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Admins holds %v, want the users in doubt and the member %v", got, want)
	}
}

// TestSCIMCloseReadsBackMemberships: a target that answers 200 to PATCH members and keeps
// only some of them fails the run at Close, naming the group, instead of a summary that
// counts those users written with their groups; one that keeps them all passes.
func TestSCIMCloseReadsBackMemberships(t *testing.T) {
	for _, forget := range []bool{false, true} {
		t.Run(map[bool]string{false: "kept", true: "forgotten"}[forget], func(t *testing.T) {
			e := newSCIMEnv(t, sbscim.Config{}, "")
			for _, g := range []string{"Admins", "Ops"} {
				if err := e.srv.AddGroup(g, nil); err != nil {
					t.Fatal(err)
				}
			}
			var admins atomic.Value // the group's id, known once the sink listed the groups
			admins.Store("?")
			srv := e.srv.Handler()
			var patches atomic.Int32
			e2 := newSCIMEnvHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if forget && r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/Groups/"+admins.Load().(string)) {
					if patches.Add(1) > 1 { // the first PATCH is kept, later ones are not
						r.Method = http.MethodGet // answer 200 with the group, change nothing
					}
				}
				srv.ServeHTTP(w, r)
			}))
			sink := e2.sink(t, false, 1)
			if _, err := sink.Roles(context.Background()); err != nil {
				t.Fatal(err)
			}
			admins.Store(sink.grp.byName["admins"].id)
			recs, users := withRoles(t, 6, func(i int) []string { return []string{"Admins", "Ops"} })
			for i := range recs {
				res, err := sink.Write(context.Background(), []core.Item{{Seq: int64(i), Data: recs[i], User: users[i]}})
				if err != nil || res[0].Outcome == core.Rejected {
					t.Fatalf("write %d: %v %+v", i, err, res)
				}
			}
			err := sink.Close(context.Background())
			if !forget {
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMembershipsNotKept) || !strings.Contains(err.Error(), `group "Admins" lacks 5 of the 6 members added`) ||
				strings.Contains(err.Error(), `"Ops"`) {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// TestSCIMCloseReadsBackRemovals: with mirror mode, a member taken out of a group that the
// target answers 200 for and keeps fails the run at Close, naming the group.
func TestSCIMCloseReadsBackRemovals(t *testing.T) {
	_, plain := withRoles(t, 3, func(int) []string { return nil })
	var seeds []json.RawMessage
	var names []string
	for _, u := range plain {
		b, _ := json.Marshal(u)
		seeds, names = append(seeds, b), append(names, u.UserName)
	}
	e := newSCIMEnv(t, sbscim.Config{Users: seeds}, "")
	if err := e.srv.AddGroup("Admins", names); err != nil {
		t.Fatal(err)
	}
	srv := e.srv.Handler()
	e2 := newSCIMEnvHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/Groups/") {
			r.Method = http.MethodGet // 200 with the group, nothing removed
		}
		srv.ServeHTTP(w, r)
	}))
	sink := e2.sink(t, true, 1)
	if _, err := sink.Roles(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.MirrorMemberships([]string{"Admins"}) // the source knows Admins; these users left it
	recs, users := withRoles(t, 3, func(int) []string { return nil })
	for i := range recs {
		res, err := sink.Write(context.Background(), []core.Item{{Seq: int64(i), Data: recs[i], User: users[i]}})
		if err != nil || res[0].Outcome == core.Rejected {
			t.Fatalf("write %d: %v %+v", i, err, res)
		}
	}
	err := sink.Close(context.Background())
	if !errors.Is(err, ErrMembershipsNotKept) || !strings.Contains(err.Error(), `group "Admins" still holds 3 of the 3 removed`) {
		t.Fatalf("Close: %v", err)
	}
	if got, _ := e.srv.GroupMembers("Admins"); len(got) != 3 {
		t.Fatalf("the test's target removed members after all: %v", got)
	}
}
