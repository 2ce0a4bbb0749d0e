package load

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// fakeTarget is a Sink that lists fixed users and records removals.
type fakeTarget struct {
	users      []core.TargetUser
	failAfter  int  // ListUsers fails after this many users (0: never)
	deactivate bool // implements Deactivator too (as SCIM)
	userErr    map[string]error
	fatal      error // RemoveUsers fails whole with it

	mu          sync.Mutex
	removed     []string
	deactivated []string
	calls       int
}

func (f *fakeTarget) Name() string                                              { return "fake" }
func (f *fakeTarget) Format() string                                            { return core.FormatSCIM }
func (f *fakeTarget) Write(context.Context, []core.Item) ([]core.Result, error) { return nil, nil }
func (f *fakeTarget) Close(context.Context) error                               { return nil }

func (f *fakeTarget) ListUsers(ctx context.Context, fn func(core.TargetUser) error) error {
	for i, u := range f.users {
		if f.failAfter > 0 && i == f.failAfter {
			return fmt.Errorf("list page %d: %w", i, httpx.ErrRateLimited)
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeTarget) apply(users []core.TargetUser, into *[]string) ([]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fatal != nil {
		return nil, f.fatal
	}
	out := make([]error, len(users))
	for i, u := range users {
		if err := f.userErr[u.ID]; err != nil {
			out[i] = err
			continue
		}
		*into = append(*into, u.ID)
	}
	return out, nil
}

func (f *fakeTarget) RemoveUsers(_ context.Context, users []core.TargetUser) ([]error, error) {
	return f.apply(users, &f.removed)
}

// fakeSCIM adds DeactivateUsers.
type fakeSCIM struct{ *fakeTarget }

func (f fakeSCIM) DeactivateUsers(_ context.Context, users []core.TargetUser) ([]error, error) {
	return f.apply(users, &f.deactivated)
}

func keepOf(keys ...string) *KeepSet {
	k := NewKeepSet()
	for _, s := range keys {
		k.Add(s)
	}
	return k
}

func tu(id, name, email string) core.TargetUser {
	return core.TargetUser{ID: id, UserName: name, Email: email}
}

func reportIDs(r MirrorReport) []string {
	var out []string
	for _, u := range r.Users {
		out = append(out, u.ID)
	}
	slices.Sort(out)
	return out
}

func TestMirrorCandidates(t *testing.T) {
	target := []core.TargetUser{
		tu("1", "alice", "alice@example.com"),
		tu("2", "Bob@Example.com", "bob@example.com"), // kept case-insensitively
		tu("3", "carol", "carol@example.com"),         // gone
		tu("4", "dave", "d@example.com"),              // kept by email (App ID/Auth0 names)
		tu("5", "", ""),                               // no name: never removed
		tu("6", "eve", ""),                            // gone
		tu("auth0|7", "frank", ""),                    // kept by source id
		{ID: "8", UserName: "gina", Inactive: true},   // gone, inactive: still removed by a Remover
		tu("3", "carol", "carol@example.com"),         // a page repeated
		tu("", "nobody", ""),                          // no id: cannot be addressed
	}
	keep := keepOf("ALICE", "bob@example.com", "D@EXAMPLE.COM", "auth0|7", "someone-else")
	f := &fakeTarget{users: target}
	rep, err := Mirror(context.Background(), f, f, keep, MirrorConfig{MaxDelete: 10, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reportIDs(rep), []string{"3", "6", "8"}; !slices.Equal(got, want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
	if rep.Listed != 9 || rep.Kept != 4 || rep.Unidentified != 2 || rep.Candidates != 3 || rep.Action != "remove" {
		t.Errorf("report %+v", rep)
	}
	for _, u := range rep.Users {
		if u.Status != "would remove" {
			t.Errorf("dry run status %q", u.Status)
		}
	}
	if len(f.removed) != 0 || f.calls != 0 {
		t.Errorf("dry run removed %v", f.removed)
	}
}

func TestMirrorGuards(t *testing.T) {
	many := make([]core.TargetUser, 30)
	for i := range many {
		many[i] = tu(fmt.Sprint(i), fmt.Sprintf("user%02d", i), "")
	}
	incomplete := keepOf("x")
	incomplete.Incomplete("record 7 could not be decoded")
	tests := []struct {
		name        string
		users       []core.TargetUser
		keep        *KeepSet
		cfg         MirrorConfig
		failAfter   int
		wantErr     error
		wantRemoved int
		wantInErr   []string
	}{
		{name: "under the limit", users: many[:5], keep: keepOf("nobody"), cfg: MirrorConfig{MaxDelete: 5}, wantRemoved: 5},
		{name: "over the limit refuses", users: many, keep: keepOf("nobody"), cfg: MirrorConfig{MaxDelete: 10},
			wantErr: ErrMirrorRefused, wantInErr: []string{"30 users", "max-delete 10", "user00", "user19", "and 10 more"}},
		{name: "zero limit refuses one", users: many[:1], keep: keepOf("nobody"), cfg: MirrorConfig{}, wantErr: ErrMirrorRefused},
		{name: "force", users: many, keep: keepOf("nobody"), cfg: MirrorConfig{MaxDelete: 10, Force: true, Batch: 7}, wantRemoved: 30},
		{name: "dry run over the limit lists all", users: many, keep: keepOf("nobody"), cfg: MirrorConfig{MaxDelete: 10, DryRun: true}},
		{name: "incomplete source", users: many[:2], keep: incomplete, cfg: MirrorConfig{MaxDelete: 10, Force: true},
			wantErr: ErrMirrorRefused, wantInErr: []string{"record 7"}},
		{name: "empty source, even with force", users: many[:2], keep: NewKeepSet(), cfg: MirrorConfig{MaxDelete: 10, Force: true},
			wantErr: ErrMirrorRefused, wantInErr: []string{"no users"}},
		{name: "nil source", users: many[:2], keep: nil, cfg: MirrorConfig{MaxDelete: 10}, wantErr: ErrMirrorRefused},
		{name: "listing fails part way", users: many[:8], failAfter: 4, keep: keepOf("nobody"), cfg: MirrorConfig{MaxDelete: 10, Force: true},
			wantErr: ErrMirrorRefused, wantInErr: []string{"after 4"}},
		{name: "negative limit", users: many[:1], keep: keepOf("nobody"), cfg: MirrorConfig{MaxDelete: -1}, wantErr: core.ErrUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTarget{users: tc.users, failAfter: tc.failAfter}
			rep, err := Mirror(context.Background(), f, f, tc.keep, tc.cfg)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if errors.Is(tc.wantErr, ErrMirrorRefused) && !errors.Is(err, core.ErrAborted) {
					t.Errorf("a refusal must abort (exit 3): %v", err)
				}
				for _, s := range tc.wantInErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error lacks %q: %v", s, err)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(f.removed) != tc.wantRemoved || rep.Removed != tc.wantRemoved {
				t.Errorf("removed %d (report %d), want %d", len(f.removed), rep.Removed, tc.wantRemoved)
			}
			if tc.cfg.DryRun && len(rep.Users) != len(tc.users) {
				t.Errorf("dry run lists %d users, want %d", len(rep.Users), len(tc.users))
			}
		})
	}
}

func TestMirrorDeactivatesUnlessDelete(t *testing.T) {
	users := []core.TargetUser{
		tu("1", "alice", ""),
		tu("2", "bob", ""),
		{ID: "3", UserName: "carol", Inactive: true},
	}
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprint("delete=", del), func(t *testing.T) {
			f := fakeSCIM{&fakeTarget{users: users}}
			rep, err := Mirror(context.Background(), f, f, keepOf("alice"), MirrorConfig{MaxDelete: 5, Delete: del})
			if err != nil {
				t.Fatal(err)
			}
			if del {
				if !slices.Equal(f.removed, []string{"2", "3"}) || len(f.deactivated) != 0 || rep.Action != "remove" {
					t.Errorf("removed %v deactivated %v action %s", f.removed, f.deactivated, rep.Action)
				}
				return
			}
			// carol is inactive already: not a change, not counted against the limit.
			if !slices.Equal(f.deactivated, []string{"2"}) || len(f.removed) != 0 || rep.AlreadyInactive != 1 || rep.Action != "deactivate" {
				t.Errorf("deactivated %v removed %v report %+v", f.deactivated, f.removed, rep)
			}
			if rep.Users[0].Status != "deactivated" {
				t.Errorf("status %q", rep.Users[0].Status)
			}
		})
	}
}

func TestMirrorPerUserFailures(t *testing.T) {
	f := &fakeTarget{users: []core.TargetUser{tu("1", "a", ""), tu("2", "b", ""), tu("3", "c", "")},
		userErr: map[string]error{"2": errors.New("500 try later")}}
	rep, err := Mirror(context.Background(), f, f, keepOf("zzz"), MirrorConfig{MaxDelete: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Removed != 2 || rep.Failed != 1 || rep.Users[1].Status != "failed" || !strings.Contains(rep.Users[1].Error, "500") {
		t.Errorf("report %+v", rep)
	}

	f = &fakeTarget{users: f.users, fatal: fmt.Errorf("token: %w", httpx.ErrUnauthorized)}
	rep, err = Mirror(context.Background(), f, f, keepOf("zzz"), MirrorConfig{MaxDelete: 5})
	if !errors.Is(err, httpx.ErrUnauthorized) || !errors.Is(err, core.ErrAborted) {
		t.Fatalf("err %v", err)
	}
	for _, u := range rep.Users {
		if u.Status != "not attempted" {
			t.Errorf("status %q after a fatal error", u.Status)
		}
	}
}

func TestMirrorNeedsAbilities(t *testing.T) {
	type plain struct{ core.Sink }
	_, err := Mirror(context.Background(), nil, plain{&fakeTarget{}}, keepOf("a"), MirrorConfig{})
	if !errors.Is(err, core.ErrUsage) {
		t.Errorf("a target without a lister: %v", err)
	}
	type listOnly struct {
		core.Sink
		core.Lister
	}
	f := &fakeTarget{}
	_, err = Mirror(context.Background(), f, listOnly{f, f}, keepOf("a"), MirrorConfig{})
	if !errors.Is(err, core.ErrUsage) {
		t.Errorf("a sink that cannot remove: %v", err)
	}
}

func TestKeepSetFolding(t *testing.T) {
	k := keepOf("Straße@Example.COM", "KELVIN", "ǅemal", "bad\xffutf8")
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"straße@example.com", true},
		{"STRAßE@EXAMPLE.COM", true},
		{"kelvin", true},
		{"\u212aelvin", true}, // KELVIN SIGN folds with k
		{"ǆemal", true},
		{"Ǆemal", true},
		{"bad\xffutf8", true},
		{"bad\ufffdutf8", false}, // not the same bytes, whatever EqualFold says of U+FFFD
		{"strasse@example.com", false},
		{"", false},
		{"kelvi", false},
	} {
		if got := k.Has(tc.key); got != tc.want {
			t.Errorf("Has(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
	if k.Len() != 4 {
		t.Errorf("Len %d", k.Len())
	}
	k.Add("")
	if k.Len() != 4 {
		t.Errorf("empty key added")
	}
}

func TestKeepSetConcurrentAndIncomplete(t *testing.T) {
	k := NewKeepSet()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k.Add(fmt.Sprintf("user%d@example.com", w*1000+i))
			}
		}()
	}
	wg.Wait()
	if k.Len() != 8000 {
		t.Fatalf("Len %d", k.Len())
	}
	if ok, _ := k.Complete(); !ok {
		t.Fatal("fresh set incomplete")
	}
	for i := range 5 {
		k.Incomplete(fmt.Sprintf("line %d", i))
	}
	ok, why := k.Complete()
	if ok || !strings.Contains(why, "line 0") || !strings.Contains(why, "2 more") {
		t.Errorf("Complete = %v, %q", ok, why)
	}
}

// BenchmarkKeepSetMillion measures the heap a million source users cost (name and email
// each) and the time to collect them.
func BenchmarkKeepSetMillion(b *testing.B) {
	const users = 1_000_000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		k := NewKeepSet()
		for i := range users {
			k.Add("user" + strconv.Itoa(i))
			k.Add("user" + strconv.Itoa(i) + "@example.com")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(k.Len()), "heap-bytes/key")
		runtime.KeepAlive(k)
	}
}
