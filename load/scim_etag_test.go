package load

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/schemas"
)

// These tests pin optimistic concurrency on a SCIM target: --upsert PUTs with If-Match
// (meta.version from the lookup) when the provider advertises ETags, re-reads and tries once
// more on 412, and mirror deactivation by PUT sends If-Match and leaves a user that changed
// meanwhile as it is. The sandbox answers 412 by itself: a "concurrent writer" changes the
// user behind the sink's back just before its PUT reaches the provider.

// etagCall is one request the sink sent.
type etagCall struct {
	method, kind, id, ifMatch string
}

// etagEnv is a sandbox SCIM provider whose traffic is logged, with a hook that runs
// before each request reaches the provider.
type etagEnv struct {
	*scimEnv
	mu    sync.Mutex
	calls []etagCall
	// listVersions: meta.version per lower-cased userName, from the lookups' answers.
	listVersions map[string]string
	// readVersions: meta.version of each GET /Users/{id} answer, per id, in order.
	readVersions map[string][]string
	// before runs for each request (n counts the requests of that method to that id,
	// from 1); returning true means it answered the request itself.
	before func(w http.ResponseWriter, r *http.Request, c etagCall, n int) bool
}

func etagUser(name, display, title string) []byte {
	b, _ := json.Marshal(map[string]any{
		"schemas": []string{schemas.CoreUserURN}, "userName": name,
		"displayName": display, "title": title, "active": true,
	})
	return b
}

// newEtagEnv starts the provider with seed users; etag=false makes its
// ServiceProviderConfig say ETags are not supported.
func newEtagEnv(t *testing.T, etag bool, seed ...[]byte) *etagEnv {
	t.Helper()
	cfg := sbscim.Config{}
	for _, s := range seed {
		cfg.Users = append(cfg.Users, s)
	}
	e := &etagEnv{scimEnv: newSCIMEnv(t, cfg, ""), listVersions: map[string]string{}, readVersions: map[string][]string{}}
	perID := map[string]int{}
	e.rec.intercept = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		c := etagCall{method: r.Method, kind: kind(r.URL.Path), ifMatch: r.Header.Get("If-Match")}
		if i := strings.Index(r.URL.Path, "/Users/"); i >= 0 {
			c.id = r.URL.Path[i+len("/Users/"):]
		}
		e.mu.Lock()
		e.calls = append(e.calls, c)
		perID[c.method+" "+c.id]++
		n := perID[c.method+" "+c.id]
		before := e.before
		e.mu.Unlock()
		return before != nil && before(w, r, c, n)
	}
	e.rec.rewrite = func(r *http.Request, status int, body []byte) []byte {
		switch k := r.Method + " " + kind(r.URL.Path); {
		case k == "GET ServiceProviderConfig" && !etag:
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			m["etag"] = map[string]any{"supported": false}
			body, _ = json.Marshal(m)
		case k == "GET Users" && status == http.StatusOK:
			var l struct {
				Resources []map[string]any `json:"Resources"`
			}
			_ = json.Unmarshal(body, &l)
			e.mu.Lock()
			for _, u := range l.Resources {
				name, _ := u["userName"].(string)
				e.listVersions[strings.ToLower(name)] = version(u)
			}
			e.mu.Unlock()
		case k == "GET Users/{id}" && status == http.StatusOK:
			var u map[string]any
			_ = json.Unmarshal(body, &u)
			id, _ := u["id"].(string)
			e.mu.Lock()
			e.readVersions[id] = append(e.readVersions[id], version(u))
			e.mu.Unlock()
		}
		return body
	}
	return e
}

func (e *etagEnv) id(t *testing.T, name string) string {
	t.Helper()
	id, ok := e.srv.UserByName(name)
	if !ok {
		t.Fatalf("user %q not in the provider", name)
	}
	return id
}

// stored returns the provider's copy of the user.
func (e *etagEnv) stored(t *testing.T, id string) map[string]any {
	t.Helper()
	b, ok := e.srv.User(id)
	if !ok {
		t.Fatalf("user %s not in the provider", id)
	}
	var u map[string]any
	if err := json.Unmarshal(b, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// touch is another client changing the user directly at the provider (no If-Match): its
// version moves on. It runs inside handlers, so it reports with Errorf, never Fatal.
func (e *etagEnv) touch(t *testing.T, id, attr string, value any) {
	b, ok := e.srv.User(id)
	if !ok {
		t.Errorf("touch: user %s not in the provider", id)
		return
	}
	var u map[string]any
	_ = json.Unmarshal(b, &u)
	delete(u, "meta")
	u[attr] = value
	body, _ := json.Marshal(u)
	r := httptest.NewRequest(http.MethodPut, "/scim/v2/Users/"+id, bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer tok")
	r.Header.Set("Content-Type", sbscim.MediaType)
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("touch: PUT %s: %d %s", id, w.Code, w.Body.String())
	}
}

// callsTo returns the logged requests of method to the user id.
func (e *etagEnv) callsTo(method, id string) []etagCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []etagCall
	for _, c := range e.calls {
		if c.method == method && c.id == id {
			out = append(out, c)
		}
	}
	return out
}

func (e *etagEnv) listVersion(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listVersions[name]
}

func (e *etagEnv) reads(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.readVersions[id]...)
}

func writeItems(t *testing.T, s *SCIM, recs ...[]byte) []core.Result {
	t.Helper()
	items := make([]core.Item, len(recs))
	for i, r := range recs {
		items[i] = core.Item{Seq: int64(i), Data: r, Ref: fmt.Sprintf("record %d", i)}
	}
	res, err := s.Write(context.Background(), items)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(res) != len(recs) {
		t.Fatalf("Write: %d results for %d users", len(res), len(recs))
	}
	return res
}

func TestSCIMUpsertIfMatch(t *testing.T) {
	seedAlice := etagUser("alice", "Alice Old", "Engineer")
	seedBob := etagUser("bob", "Bob Old", "Engineer")
	wantAlice := etagUser("alice", "Alice New", "Engineer")
	wantBob := etagUser("bob", "Bob New", "Engineer")
	newCarol := etagUser("carol", "Carol", "Engineer")

	for _, tc := range []struct {
		name string
		etag bool
		// before runs ahead of the nth PUT to alice; true: it answered the request.
		before func(t *testing.T, e *etagEnv, alice string, w http.ResponseWriter, n int) bool
		want   core.Outcome
		reason string // in alice's rejection
		puts   int    // PUTs to alice
		// ifMatch checks the If-Match headers of alice's PUTs.
		ifMatch func(t *testing.T, e *etagEnv, puts []etagCall)
		display string // alice's displayName at the provider afterwards
	}{
		{
			name: "ETags supported: If-Match is the version the lookup returned",
			etag: true, want: core.Updated, puts: 1, display: "Alice New",
			ifMatch: func(t *testing.T, e *etagEnv, puts []etagCall) {
				v := e.listVersion("alice")
				if v == "" {
					t.Fatal("the lookup returned no meta.version: the test tests nothing")
				}
				if puts[0].ifMatch != v {
					t.Errorf("If-Match %q, want the looked-up version %q", puts[0].ifMatch, v)
				}
			},
		},
		{
			name: "ETags not supported: no If-Match",
			etag: false, want: core.Updated, puts: 1, display: "Alice New",
			ifMatch: func(t *testing.T, e *etagEnv, puts []etagCall) {
				if e.listVersion("alice") == "" {
					t.Fatal("the lookup returned no meta.version: the test tests nothing")
				}
				if puts[0].ifMatch != "" {
					t.Errorf("If-Match %q sent to a provider without ETags", puts[0].ifMatch)
				}
			},
		},
		{
			name: "stale version: re-read, PUT again with the new version",
			etag: true, want: core.Updated, puts: 2, display: "Alice New",
			before: func(t *testing.T, e *etagEnv, alice string, _ http.ResponseWriter, n int) bool {
				if n == 1 {
					e.touch(t, alice, "nickName", "Al") // another attribute: still differs
				}
				return false
			},
			ifMatch: func(t *testing.T, e *etagEnv, puts []etagCall) {
				reads := e.reads(puts[0].id)
				if len(reads) != 1 {
					t.Fatalf("%d re-reads (GET /Users/{id}), want 1", len(reads))
				}
				if puts[0].ifMatch != e.listVersion("alice") {
					t.Errorf("first If-Match %q, want the looked-up %q", puts[0].ifMatch, e.listVersion("alice"))
				}
				if puts[1].ifMatch != reads[0] || puts[1].ifMatch == puts[0].ifMatch {
					t.Errorf("second If-Match %q, want the re-read version %q (first was %q)", puts[1].ifMatch, reads[0], puts[0].ifMatch)
				}
			},
		},
		{
			name: "keeps changing: rejected after two PUTs, no third",
			etag: true, want: core.Rejected, reason: "412", puts: 2, display: "Alice Old",
			before: func(t *testing.T, e *etagEnv, alice string, _ http.ResponseWriter, n int) bool {
				e.touch(t, alice, "nickName", fmt.Sprintf("edit %d", n))
				return false
			},
			ifMatch: func(t *testing.T, e *etagEnv, puts []etagCall) {
				for i, p := range puts {
					if p.ifMatch == "" {
						t.Errorf("PUT %d without If-Match", i+1)
					}
				}
			},
		},
		{
			name: "keeps answering 412 (scripted): rejected after two PUTs",
			etag: true, want: core.Rejected, reason: "update refused twice", puts: 2, display: "Alice Old",
			before: func(t *testing.T, e *etagEnv, alice string, w http.ResponseWriter, n int) bool {
				w.Header().Set("Content-Type", sbscim.MediaType)
				w.WriteHeader(http.StatusPreconditionFailed)
				_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"412","detail":"stale"}`))
				return true
			},
		},
		{
			name: "re-read already holds the wanted data: unchanged, no second PUT",
			etag: true, want: core.Unchanged, puts: 1, display: "Alice New",
			before: func(t *testing.T, e *etagEnv, alice string, _ http.ResponseWriter, n int) bool {
				if n == 1 {
					e.touch(t, alice, "displayName", "Alice New")
				}
				return false
			},
			ifMatch: func(t *testing.T, e *etagEnv, puts []etagCall) {
				if n := len(e.reads(puts[0].id)); n != 1 {
					t.Errorf("%d re-reads, want 1", n)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEtagEnv(t, tc.etag, seedAlice, seedBob)
			alice, bob := e.id(t, "alice"), e.id(t, "bob")
			if tc.before != nil {
				e.before = func(w http.ResponseWriter, r *http.Request, c etagCall, n int) bool {
					return c.method == http.MethodPut && c.id == alice && tc.before(t, e, alice, w, n)
				}
			}
			// Alice is the user under test; bob (exists, differs) and carol (new) share
			// her batch and must be written whatever happens to her.
			res := writeItems(t, e.sink(t, true, 2), wantAlice, wantBob, newCarol)

			if r := res[0]; r.Outcome != tc.want || (tc.want != core.Rejected && r.TargetID != alice) {
				t.Errorf("alice: %v %q (id %s), want %v", r.Outcome, r.Reason, r.TargetID, tc.want)
			}
			if tc.reason != "" && !strings.Contains(res[0].Reason, tc.reason) {
				t.Errorf("alice's reason %q does not say %q", res[0].Reason, tc.reason)
			}
			if res[1].Outcome != core.Updated || res[2].Outcome != core.Created {
				t.Errorf("the rest of the batch: bob %v %q, carol %v %q; want updated, created",
					res[1].Outcome, res[1].Reason, res[2].Outcome, res[2].Reason)
			}
			puts := e.callsTo(http.MethodPut, alice)
			if len(puts) != tc.puts {
				t.Fatalf("%d PUTs to alice, want %d", len(puts), tc.puts)
			}
			if n := len(e.callsTo(http.MethodPut, bob)); n != 1 {
				t.Errorf("%d PUTs to bob, want 1", n)
			}
			if tc.ifMatch != nil {
				tc.ifMatch(t, e, puts)
			}
			if got := e.stored(t, alice)["displayName"]; got != tc.display {
				t.Errorf("alice's displayName at the provider: %v, want %q", got, tc.display)
			}
			if got := e.stored(t, bob)["displayName"]; got != "Bob New" {
				t.Errorf("bob's displayName at the provider: %v", got)
			}
			if _, ok := e.srv.UserByName("carol"); !ok {
				t.Error("carol was not created")
			}
		})
	}
}

// TestSCIMDeactivateByPutIfMatch: a provider without PATCH gets GET + PUT active=false,
// with If-Match the version just read; a 412 leaves the user as it is and names the 412.
func TestSCIMDeactivateByPutIfMatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stale   bool // alice changes between the sink's GET and its PUT
		wantErr string
	}{
		{name: "If-Match is the version read"},
		{name: "412: per-user error, user left as is", stale: true, wantErr: "412"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEtagEnv(t, true, etagUser("alice", "Alice", "Engineer"), etagUser("bob", "Bob", "Engineer"))
			alice, bob := e.id(t, "alice"), e.id(t, "bob")
			e.before = func(w http.ResponseWriter, r *http.Request, c etagCall, n int) bool {
				switch {
				case c.method == http.MethodPatch:
					w.Header().Set("Content-Type", sbscim.MediaType)
					w.WriteHeader(http.StatusMethodNotAllowed)
					_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"405","detail":"PATCH is not supported"}`))
					return true
				case c.method == http.MethodPut && c.id == alice && tc.stale:
					e.touch(t, alice, "title", "Manager")
				}
				return false
			}
			s := e.sink(t, false, 2)
			errs, err := s.DeactivateUsers(context.Background(), []core.TargetUser{
				{ID: alice, UserName: "alice"}, {ID: bob, UserName: "bob"},
			})
			if err != nil {
				t.Fatalf("DeactivateUsers: %v", err)
			}
			if len(errs) != 2 {
				t.Fatalf("%d per-user errors for 2 users", len(errs))
			}
			if len(e.callsTo(http.MethodPatch, alice)) != 1 {
				t.Fatal("no PATCH tried first: the test does not reach the PUT path")
			}

			for _, id := range []string{alice, bob} {
				reads := e.reads(id)
				if len(reads) != 1 || reads[0] == "" {
					t.Fatalf("GET /Users/%s answered versions %q, want one", id, reads)
				}
				puts := e.callsTo(http.MethodPut, id)
				if len(puts) != 1 {
					t.Fatalf("%d PUTs to %s, want 1", len(puts), id)
				}
				if puts[0].ifMatch != reads[0] {
					t.Errorf("PUT to %s: If-Match %q, want the version just read %q", id, puts[0].ifMatch, reads[0])
				}
			}

			if errs[1] != nil || e.stored(t, bob)["active"] != false {
				t.Errorf("bob: error %v, active %v; want deactivated", errs[1], e.stored(t, bob)["active"])
			}
			a := e.stored(t, alice)
			if tc.wantErr == "" {
				if errs[0] != nil || a["active"] != false {
					t.Errorf("alice: error %v, active %v; want deactivated", errs[0], a["active"])
				}
				return
			}
			if errs[0] == nil || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Errorf("alice: error %v, want one naming %s", errs[0], tc.wantErr)
			}
			if a["active"] != true || a["title"] != "Manager" {
				t.Errorf("alice was not left as the other writer made her: active %v, title %v", a["active"], a["title"])
			}
		})
	}
}
