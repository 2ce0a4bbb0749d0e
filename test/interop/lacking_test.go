package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/interop/elimity"
	"github.com/ferry-dev/ferry/test/internal/ferrytest"
)

// TestInteropTargetLacksExtension: the users carry the acme extension and the target (an
// elimity-com/scim server) does not declare it. Issue 12: ferry refuses before writing,
// exit 3, unless told --drop-unknown-extensions; then every user goes without the acme
// data, and the change log keeps each user's acme values.
//
// Found here before i12-ext's "Custom extensions on every target": ferry sent the acme
// data, the server dropped what it does not declare and answered 201, and ferry reported
// 200 written, exit 0, no change: every user's acme values silently lost.
func TestInteropTargetLacksExtension(t *testing.T) {
	const n = 200
	users := genUsers(n)
	src := start(t, "scimmy")
	if _, err := seed(src, users, nil); err != nil {
		t.Fatal(err)
	}
	srcSnap := src.snapshot(t)
	newTarget := func(t *testing.T) server {
		h, err := elimity.Handler(tokenOf("elimity"), elimity.WithoutAcme())
		if err != nil {
			t.Fatal(err)
		}
		return newServer("elimity without acme", ferrytest.Serve(t, h)+"/scim/v2", tokenOf("elimity"))
	}
	// ferry plan names the extension, its users and attributes, and how many users the
	// target would not take it from: all of them here, none on a target that declares it.
	t.Run("plan", func(t *testing.T) {
		full, err := elimity.Handler(tokenOf("elimity"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			dst        server
			undeclared int64
		}{{newTarget(t), n}, {newServer("elimity", ferrytest.Serve(t, full)+"/scim/v2", tokenOf("elimity")), 0}} {
			res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Env: endEnv(src.endpoint(), c.dst.target()), Timeout: time.Minute,
				Args: []string{"plan", "--from", src.endpoint(), "--to", c.dst.target(), "--json", "--no-progress"}})
			var out struct {
				Plan struct {
					Extensions []struct {
						URN        string   `json:"urn"`
						Users      int64    `json:"users"`
						Attributes []string `json:"attributes"`
						Undeclared int64    `json:"undeclared"`
					} `json:"extensions"`
				} `json:"plan"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &out); err != nil {
				t.Fatalf("plan --to %s: exit %d, not JSON (%v): %s\n%s", c.dst.kind, res.Code, err, ferrytest.Tail(res.Stdout, 500), ferrytest.Tail(res.Stderr, 500))
			}
			exts := out.Plan.Extensions
			want := []string{"badge", "level", "office", "remote", "skills"}
			if len(exts) != 1 || exts[0].URN != acmeURN || exts[0].Users != n || exts[0].Undeclared != c.undeclared ||
				strings.Join(exts[0].Attributes, ",") != strings.Join(want, ",") {
				t.Errorf("plan --to %s: extensions %+v, want %s with %d users, attributes %v, %d undeclared",
					c.dst.kind, exts, acmeURN, n, want, c.undeclared)
			}
		}
	})
	t.Run("refused by default", func(t *testing.T) {
		dst := newTarget(t)
		m := migrate(t, src.endpoint(), dst.target())
		res := m.res
		if res.Code != 3 {
			t.Errorf("exit %d, want 3 (refused before writing: the target lacks %s)", res.Code, acmeURN)
		}
		if !strings.Contains(res.Stderr, acmeURN) {
			t.Errorf("stderr does not name %s:\n%s", acmeURN, ferrytest.Tail(res.Stderr, 1000))
		}
		if got := dst.list(t, "Users"); len(got) != 0 {
			t.Errorf("the target holds %d users after the refusal, want none", len(got))
		}
	})
	t.Run("--drop-unknown-extensions", func(t *testing.T) {
		dst := newTarget(t)
		m := migrate(t, src.endpoint(), dst.target(), "--drop-unknown-extensions")
		if m.res.Code != 0 || m.sum.Written != n {
			t.Fatalf("exit %d %+v, want 0 and %d written\n%s", m.res.Code, m.sum, n, ferrytest.Tail(m.res.Stderr, 1000))
		}
		log := m.changes
		// What the target holds is the source less the acme data.
		want := snapshot{users: map[string]map[string]any{}}
		for k, u := range srcSnap.users {
			w := map[string]any{}
			for a, v := range u {
				if a != acmeURN {
					w[a] = v
				}
			}
			want.users[k] = w
		}
		compareUsers(t, "source less acme", want, dst.snapshot(t))
		// The change log keeps every user's acme values.
		logged := map[string]bool{}
		sc := bufio.NewScanner(strings.NewReader(log))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.Contains(line, []byte(acmeURN)) {
				continue
			}
			var c struct {
				User string `json:"user"`
			}
			_ = json.Unmarshal(line, &c)
			if bytes.Contains(line, []byte(`B-`)) { // the badge value, so the original is kept
				logged[strings.ToLower(c.User)] = true
			}
		}
		if len(logged) != n {
			t.Errorf("the change log keeps the acme values of %d users, want %d:\n%s", len(logged), n, ferrytest.Tail(log, 800))
		}
	})
}
