package scimgroups

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
	"golang.org/x/time/rate"

	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/sandbox/scim"
)

func tenant(t *testing.T, users int, cfg scim.Config, wrap ...func(http.Handler) http.Handler) (*scim.Server, *httpx.Client) {
	t.Helper()
	for i := range users {
		b, _ := json.Marshal(map[string]any{"schemas": []string{scim.UserURN}, "userName": fmt.Sprintf("u%03d", i)})
		cfg.Users = append(cfg.Users, b)
	}
	cfg.Token = "tok"
	s, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for _, w := range wrap {
		h = w(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c, err := httpx.New(httpx.Config{Name: "scim", BaseURL: ts.URL, Token: httpx.StaticToken("tok"), MediaType: scim.MediaType,
		Limiter: httpx.NewLimiter(rate.Inf, 1)}) // a loopback sandbox: no pacing to wait on
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("u%03d", i)
	}
	return out
}

// TestListPastLimits: more groups than a page, and a group with more members than a list
// answer carries, come whole.
func TestListPastLimits(t *testing.T) {
	s, c := tenant(t, 30, scim.Config{GroupListMembers: 5})
	for g := range PageSize + 3 {
		n := 0
		if g == 7 {
			n = 30
		}
		if err := s.AddGroup(fmt.Sprintf("g%03d", g), names(n)); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := ListWithMembers(context.Background(), c, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != PageSize+3 {
		t.Fatalf("%d groups, want %d", len(gs), PageSize+3)
	}
	for _, g := range gs {
		want := 0
		if g.Name == "g007" {
			want = 30
		}
		if len(g.Members) != want {
			t.Fatalf("group %s: %d members, want %d", g.Name, len(g.Members), want)
		}
	}
}

// TestPatcherHalves: a provider taking few member changes per PATCH still gets them all,
// and the batch settles at what it takes.
func TestPatcherHalves(t *testing.T) {
	cases := []struct {
		name      string
		limit     int
		wantBatch int
	}{
		{"no limit", 0, DefaultPatchMembers},
		{"Entra-like 20", 20, 11}, // 45 -> 22 -> 11: halves what was sent
		{"one at a time", 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := tenant(t, 45, scim.Config{GroupPatchMembers: tc.limit})
			ctx := context.Background()
			g, err := Create(ctx, c, "Admins")
			if err != nil {
				t.Fatal(err)
			}
			again, err := Create(ctx, c, "admins") // exists: found, not created twice
			if err != nil || again.ID != g.ID {
				t.Fatalf("second create: %v %+v", err, again)
			}
			var ids []string
			for _, n := range names(45) {
				id, _ := s.UserByName(n)
				ids = append(ids, id)
			}
			p := NewPatcher(c, 0)
			if err := p.Add(ctx, g.ID, ids); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.GroupMembers("Admins"); !slices.Equal(got, names(45)) {
				t.Fatalf("members after add: %d", len(got))
			}
			if p.BatchSize() != tc.wantBatch {
				t.Fatalf("batch %d, want %d", p.BatchSize(), tc.wantBatch)
			}
			if err := p.Remove(ctx, g.ID, ids[:3]); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.GroupMembers("Admins"); !slices.Equal(got, names(45)[3:]) {
				t.Fatalf("members after remove: %v", got)
			}
			if f, ok, err := Find(ctx, c, "ADMINS"); err != nil || !ok || f.ID != g.ID {
				t.Fatalf("find: %v %v %+v", err, ok, f)
			}
		})
	}
}

// TestPatcherOneGroupAtATime: callers adding members to one group concurrently (the
// sink's writers do) never have two PATCHes to that group in flight, so a server that
// applies a PATCH as read-modify-write loses no member; every member arrives.
func TestPatcherOneGroupAtATime(t *testing.T) {
	var mu sync.Mutex
	inFlight, worst := map[string]int{}, 0
	overlap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPatch {
				h.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			inFlight[r.URL.Path]++
			worst = max(worst, inFlight[r.URL.Path])
			mu.Unlock()
			time.Sleep(2 * time.Millisecond) // widen the window a second PATCH would land in
			h.ServeHTTP(w, r)
			mu.Lock()
			inFlight[r.URL.Path]--
			mu.Unlock()
		})
	}
	const writers, each = 8, 5
	s, c := tenant(t, writers*each, scim.Config{}, overlap)
	ctx := context.Background()
	var groups []Group
	for _, name := range []string{"Admins", "Support"} {
		g, err := Create(ctx, c, name)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, g)
	}
	p := NewPatcher(c, 2) // several PATCHes per call
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := range writers {
		var ids []string
		for _, n := range names(writers * each)[w*each : (w+1)*each] {
			id, _ := s.UserByName(n)
			ids = append(ids, id)
		}
		for _, g := range groups {
			wg.Go(func() {
				if err := p.Add(ctx, g.ID, ids); err != nil {
					t.Error(err)
					failed.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		return
	}
	if worst != 1 {
		t.Errorf("%d PATCHes to one group in flight at once, want 1", worst)
	}
	for _, g := range groups {
		if got, _ := s.GroupMembers(g.Name); !slices.Equal(got, names(writers*each)) {
			t.Errorf("%s holds %d members, want %d", g.Name, len(got), writers*each)
		}
	}
}

// TestNoGroups: a provider without /Groups says so with ErrUnsupported.
func TestNoGroups(t *testing.T) {
	ts := httptest.NewServer(nil) // 404 for everything
	t.Cleanup(ts.Close)
	c, err := httpx.New(httpx.Config{Name: "scim", BaseURL: ts.URL, MediaType: scim.MediaType})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := List(context.Background(), c); err != ErrUnsupported {
		t.Fatalf("err %v, want ErrUnsupported", err)
	}
}
