package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	sb "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/segmentio/encoding/json"
)

type scimEnv struct {
	sb    *sb.Server
	srv   string
	clock *fakeClock
	rec   *recorder
	users int
}

// startSCIM serves a sandbox SCIM provider under /scim/v2; indexOnly hides cursor paging
// from its /ServiceProviderConfig, wrap (if set) wraps its handler.
func startSCIM(t testing.TB, users int, fc faults.Config, indexOnly bool, wrap func(http.Handler) http.Handler) *scimEnv {
	t.Helper()
	clk := newFakeClock()
	seed := make([]json.RawMessage, users)
	for i := range seed {
		seed[i] = gen.SCIM(31, i, gen.Options{Nasty: 0.05})
	}
	s, err := sb.New(sb.Config{Users: seed, Clock: clk, BasePath: "/scim/v2", Token: "scim-test-token"})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s.Handler()
	if indexOnly {
		h = rewriting(h, "/scim/v2/ServiceProviderConfig", func(_ string, b []byte) []byte {
			return bytes.Replace(b, []byte(`"cursor":true`), []byte(`"cursor":false`), 1)
		})
	}
	if wrap != nil {
		h = wrap(h)
	}
	srv := serve(t, h, fc)
	return &scimEnv{sb: s, srv: srv.URL, clock: clk, rec: &recorder{next: http.DefaultTransport, now: clk.Now}, users: users}
}

func (e *scimEnv) source(t testing.TB) *SCIM {
	t.Helper()
	s, err := newSCIM(mustEndpoint(t, "scim+"+e.srv+"/scim/v2"),
		core.Options{Getenv: envOf(map[string]string{"SCIM_TOKEN": "scim-test-token"})},
		netHooks{now: e.clock.Now, sleep: e.clock.Sleep, transport: e.rec})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantExternalIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ext-%d", i)
	}
	return out
}

func usedCursor(r *recorder) bool {
	for _, x := range r.exchanges() {
		if x.path == "/scim/v2/Users" && strings.Contains(x.query, "cursor=") {
			return true
		}
	}
	return false
}

func TestSCIMSizes(t *testing.T) {
	flaky := faults.Config{Rate5xx: 0.05, Drop: 0.03, Truncate: 0.03, Seed: 5}
	for _, tc := range []struct {
		users     int
		indexOnly bool
		fc        faults.Config
	}{
		{0, false, faults.Config{}}, {10, false, faults.Config{}}, {1000, false, faults.Config{}},
		{1001, false, faults.Config{}}, {1001, true, faults.Config{}}, {20000, false, faults.Config{}},
		{20000, true, faults.Config{}}, {1500, false, flaky}, {1500, true, flaky},
	} {
		name := fmt.Sprintf("%d_users_index_%v_faults_%v", tc.users, tc.indexOnly, tc.fc.Enabled())
		t.Run(name, func(t *testing.T) {
			if tc.users >= 20000 && testing.Short() {
				t.Skip("short")
			}
			e := startSCIM(t, tc.users, tc.fc, tc.indexOnly, nil)
			src := e.source(t)
			ctx := context.Background()
			if n, ok := src.Total(ctx); !ok || n != int64(tc.users) {
				t.Fatalf("Total = %d, %v; want %d", n, ok, tc.users)
			}
			recs, err := collect(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			sameSet(t, ids(t, recs, "externalId"), wantExternalIDs(tc.users))
			if tc.users > 0 && usedCursor(e.rec) == tc.indexOnly {
				t.Errorf("cursor paging used: %v", !tc.indexOnly)
			}
			for _, r := range recs[:min(len(recs), 50)] {
				id := scimID(r.Data)
				stored, ok := e.sb.User(id)
				if !ok || !bytes.Contains(r.Data, []byte(`"userName"`)) || len(stored) == 0 {
					t.Fatalf("%s: not the server's user: %s", id, r.Data)
				}
			}
		})
	}
}

func TestSCIMResume(t *testing.T) {
	for _, tc := range []struct {
		name      string
		indexOnly bool
		expire    bool
	}{{"cursor", false, false}, {"index", true, false}, {"cursor_expired", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startSCIM(t, 730, faults.Config{}, tc.indexOnly, nil)
			ctx := context.Background()
			all, err := collect(ctx, e.source(t))
			if err != nil {
				t.Fatal(err)
			}
			if tc.expire {
				e.clock.Advance(time.Hour)
			}
			for _, cut := range []int{1, 99, 100, 101, 555, 729, 730} {
				src := e.source(t)
				if err := src.ResumeAfter(all[cut-1].Cursor); err != nil {
					t.Fatal(err)
				}
				rest, err := collect(ctx, src)
				if err != nil {
					t.Fatalf("cut %d (%s): %v", cut, all[cut-1].Cursor, err)
				}
				sameSet(t, ids(t, rest, "id"), ids(t, all[cut:], "id"))
			}
			if tc.expire && !strings.Contains(fmt.Sprint(e.rec.exchanges()[len(e.rec.exchanges())-1].query), "startIndex=") {
				t.Error("an expired cursor did not fall back to startIndex paging")
			}
		})
	}
	if err := (&SCIM{pager: &indexPager{}}).ResumeAfter("cursor=x&skip=5&offset=2"); !errors.Is(err, core.ErrUsage) {
		t.Errorf("skip > offset: %v", err)
	}
}

func TestSCIMSince(t *testing.T) {
	for _, indexOnly := range []bool{false, true} {
		e := startSCIM(t, 300, faults.Config{}, indexOnly, nil)
		since := e.clock.Now().Add(30 * time.Minute)
		e.clock.Advance(time.Hour)
		var want []string
		for i := 300; i < 420; i++ {
			req, _ := http.NewRequest(http.MethodPost, e.srv+"/scim/v2/Users", bytes.NewReader(gen.SCIM(31, i, gen.Options{})))
			req.Header.Set("Authorization", "Bearer scim-test-token")
			req.Header.Set("Content-Type", "application/scim+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d", resp.StatusCode)
			}
			want = append(want, fmt.Sprintf("ext-%d", i))
		}
		src := e.source(t)
		if err := src.Since(since); err != nil {
			t.Fatal(err)
		}
		recs, err := collect(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, ids(t, recs, "externalId"), want)
	}
}

// listAnswer serves /scim/v2/Users with a canned ListResponse built by page.
func listAnswer(page func(r *http.Request) any) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/scim/v2/Users" {
				h.ServeHTTP(w, r)
				return
			}
			b, _ := json.Marshal(page(r))
			w.Header().Set("Content-Type", "application/scim+json")
			_, _ = w.Write(b)
		})
	}
}

func userN(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u%d","userName":"user%d"}`, i, i))
}

func usersFrom(start, n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for k := range out {
		out[k] = userN(start + k)
	}
	return out
}

func TestSCIMHostile(t *testing.T) {
	atoi := func(s string, def int) int {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil {
			return def
		}
		return n
	}
	for _, tc := range []struct {
		name      string
		indexOnly bool
		page      func(r *http.Request) any
		want      int   // users read
		err       error // nil: success
	}{
		{"cursor_loop", false, func(r *http.Request) any {
			return map[string]any{"totalResults": 1000, "Resources": usersFrom(atoi(r.URL.Query().Get("cursor"), 0), 100), "nextCursor": "100"}
		}, 200, ErrHostile},
		{"same_page_forever", true, func(r *http.Request) any {
			return map[string]any{"totalResults": 1000, "startIndex": 1, "Resources": usersFrom(0, 100)}
		}, 100, ErrHostile},
		{"total_too_small", true, func(r *http.Request) any {
			si := atoi(r.URL.Query().Get("startIndex"), 1)
			return map[string]any{"totalResults": 50, "Resources": usersFrom(si-1, max(0, min(100, 350-(si-1))))}
		}, 350, nil},
		{"total_too_large", true, func(r *http.Request) any {
			si := atoi(r.URL.Query().Get("startIndex"), 1)
			return map[string]any{"totalResults": 5000, "Resources": usersFrom(si-1, max(0, min(100, 250-(si-1))))}
		}, 250, nil},
		{"capped_page_size", true, func(r *http.Request) any {
			si := atoi(r.URL.Query().Get("startIndex"), 1)
			return map[string]any{"totalResults": 333, "Resources": usersFrom(si-1, max(0, min(30, 333-(si-1))))}
		}, 333, nil},
		{"short_middle_page", true, func(r *http.Request) any {
			si := atoi(r.URL.Query().Get("startIndex"), 1)
			n := min(atoi(r.URL.Query().Get("count"), 100), 500-(si-1))
			if si == 201 {
				n = 40 // one page comes back short: the rest of it must be read again
			}
			return map[string]any{"totalResults": 500, "Resources": usersFrom(si-1, max(0, n))}
		}, 500, nil},
		{"cursor_on_index_request", true, func(r *http.Request) any {
			start := atoi(r.URL.Query().Get("cursor"), 0)
			p := map[string]any{"totalResults": 260, "Resources": usersFrom(start, min(100, 260-start))}
			if start+100 < 260 {
				p["nextCursor"] = fmt.Sprint(start + 100)
			}
			return p
		}, 260, nil},
		{"not_an_array", true, func(r *http.Request) any {
			return map[string]any{"totalResults": 10, "Resources": map[string]any{"id": "x"}}
		}, 0, ErrHostile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startSCIM(t, 0, faults.Config{}, tc.indexOnly, listAnswer(tc.page))
			recs, err := collect(context.Background(), e.source(t))
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			got := ids(t, recs, "id")
			sameSet(t, got, ids(t, wrapRecords(usersFrom(0, tc.want)), "id"))
		})
	}
}

func wrapRecords(items []json.RawMessage) []core.Record {
	out := make([]core.Record, len(items))
	for i, it := range items {
		out[i] = core.Record{Data: it}
	}
	return out
}

func TestSCIMEndpoints(t *testing.T) {
	for _, raw := range []string{"scim+http://scim.example.com/v2", "scim+https:///v2"} {
		if _, err := newSCIM(mustEndpoint(t, raw), core.Options{}, netHooks{}); !errors.Is(err, core.ErrUsage) {
			t.Errorf("%s: err = %v, want usage", raw, err)
		}
	}
	for _, raw := range []string{"scim+http://127.0.0.1:9/v2", "scim+http://localhost/v2", "scim+https://scim.example.com/v2/"} {
		if _, err := newSCIM(mustEndpoint(t, raw), core.Options{}, netHooks{}); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
}
