// Package interop proves ferry against SCIM 2.0 servers this project did not write:
// SCIMMY (interop/server.js, an npm package) and one assembled on the Go library
// github.com/elimity-com/scim (interop/elimity). Each is loaded over plain HTTP with the
// same generated directory (2,000 users carrying the enterprise and a custom acme
// extension, multi-valued attributes and non-ASCII names, and 50 groups); the servers are
// first held to what was sent and to the protocol features the tests rely on. Then, each
// way, ferry (as its binary) exports one server to a backup file and imports it into a
// fresh server of the other kind, and the two are compared user by user and group by
// group, equal apart from server-assigned id and meta; re-runs with --upsert, server to
// server and from the file, must find everything unchanged and duplicate nothing.
package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/test/internal/ferrytest"
)

var bin string

func TestMain(m *testing.M) { ferrytest.Main(m, &bin) }

const (
	nUsers = 2000
	nGroup = 50
)

// summary is ferry migrate --json's summary object (the keys the CLI contract fixes).
type summary struct {
	Read     int `json:"read"`
	Written  int `json:"written"`
	Rejected int `json:"rejected"`
	Skipped  int `json:"skipped"`
	Changes  int `json:"changes"`
}

// migration is what one `ferry migrate` run left: its result, its --json summary, and
// the contents of its --rejects and --changes files.
type migration struct {
	res              ferrytest.Result
	sum              summary
	rejects, changes string
}

// migrate runs `ferry migrate --from src --to dst` with extra flags, whatever its exit,
// and checks that its counts add up.
func migrate(t *testing.T, src, dst string, extra ...string) migration {
	t.Helper()
	dir := t.TempDir()
	rejects, changes := filepath.Join(dir, "rejects.ndjson"), filepath.Join(dir, "changes.ndjson")
	args := append([]string{"migrate", "--from", src, "--to", dst, "--no-progress", "--json", "--rejects", rejects, "--changes", changes}, extra...)
	res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Args: args, Env: endEnv(src, dst), Timeout: 3 * time.Minute})
	m := migration{res: res}
	if err := json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &m.sum); err != nil && res.Code != 2 && res.Code != 3 {
		t.Fatalf("ferry %s: exit %d, summary is not JSON (%v): %s", strings.Join(args, " "), res.Code, err, res.Stdout)
	}
	t.Logf("ferry %s -> %s %v: exit %d in %v, %+v", src, dst, extra, res.Code, res.Elapsed.Round(time.Millisecond), m.sum)
	rj, _ := os.ReadFile(rejects)
	ch, _ := os.ReadFile(changes)
	m.rejects, m.changes = string(rj), string(ch)
	if s := m.sum; s.Read != s.Written+s.Rejected+s.Skipped {
		t.Errorf("ferry %s: read %d != written %d + rejected %d + skipped %d", strings.Join(args, " "), s.Read, s.Written, s.Rejected, s.Skipped)
	}
	return m
}

// endEnv gives each end of a run its server's token, and no SCIM_TOKEN: were an end to
// read the other's, the server would refuse it.
func endEnv(src, dst string) map[string]string {
	env := map[string]string{}
	if tok := tokenFor(src); tok != "" {
		env["FERRY_FROM_SCIM_TOKEN"] = tok
	}
	if tok := tokenFor(dst); tok != "" {
		env["FERRY_TO_SCIM_TOKEN"] = tok
	}
	return env
}

// ferry is migrate for a run that must succeed without any change: a non-zero exit fails
// the test with the rejects, and any change is an error (both servers keep every
// attribute these users have: nothing is lossy on the way).
func ferry(t *testing.T, src, dst string, extra ...string) summary {
	t.Helper()
	m := migrate(t, src, dst, extra...)
	if m.res.Code != 0 {
		t.Fatalf("ferry %s -> %s %v: exit %d %+v\nstderr:\n%s\nrejects:\n%s", src, dst, extra, m.res.Code, m.sum,
			ferrytest.Tail(m.res.Stderr, 3000), ferrytest.Tail(m.rejects, 1500))
	}
	if m.sum.Changes != 0 {
		t.Errorf("ferry %s -> %s %v: %d changes, want none between servers that keep every attribute:\n%s", src, dst, extra, m.sum.Changes, ferrytest.Tail(m.changes, 1500))
	}
	return m.sum
}

// TestInterop seeds both servers with the same directory, holds each server to it and to
// the protocol features used, then migrates each into the other with ferry.
func TestInterop(t *testing.T) {
	users, groups := genUsers(nUsers), genGroups(nGroup, nUsers)
	want := expected(users, groups)
	kinds := []string{"scimmy", "elimity"}
	// The servers live for the whole test (started here, not in a subtest); they are
	// seeded side by side, one core each.
	sources := map[string]server{}
	for _, kind := range kinds {
		sources[kind] = start(t, kind)
	}
	ids := map[string]map[string]string{}
	snaps := map[string]snapshot{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, kind := range kinds {
		wg.Go(func() {
			idOf, err := seed(sources[kind], users, groups)
			mu.Lock()
			defer mu.Unlock()
			ids[kind] = idOf
			errs = append(errs, err)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		snaps[kind] = sources[kind].snapshot(t)
	}
	for _, kind := range kinds {
		s := sources[kind]
		t.Run("server "+kind, func(t *testing.T) {
			// The seeded server holds what was sent: otherwise an equal copy proves nothing.
			t.Run("holds what was sent", func(t *testing.T) {
				compareUsers(t, "seeded "+kind, want, snaps[kind])
				compareGroups(t, "seeded "+kind, want, snaps[kind])
			})
			t.Run("discovery", func(t *testing.T) { checkDiscovery(t, s) })
			t.Run("filter eq", func(t *testing.T) { checkFilter(t, s, ids[kind], groups) })
			t.Run("paging", func(t *testing.T) { checkPaging(t, s, snaps[kind].list) })
			t.Run("group PATCH members", func(t *testing.T) { checkGroupPatch(t, s, ids[kind]) })
		})
	}
	if t.Failed() {
		t.FailNow()
	}
	// The two directions share nothing but read-only sources: they run side by side.
	for _, dir := range [][2]string{{"scimmy", "elimity"}, {"elimity", "scimmy"}} {
		from, to := dir[0], dir[1]
		src, srcSnap := sources[from], snaps[from]
		t.Run(from+" to "+to, func(t *testing.T) {
			t.Parallel()
			// Export to a backup file, import it into a fresh server: what arrives is
			// what the source holds, so the file carried everything (groups included).
			file := filepath.Join(t.TempDir(), "backup.ndjson")
			if sum := ferry(t, src.endpoint(), file); sum.Read != nUsers || sum.Written != nUsers {
				t.Errorf("export: %+v, want %d read and written", sum, nUsers)
			}
			dst := start(t, to)
			if sum := ferry(t, file, dst.target(), "--create-missing-roles"); sum.Read != nUsers || sum.Written != nUsers {
				t.Errorf("import: %+v, want %d read and written", sum, nUsers)
			}
			got := dst.snapshot(t)
			compareDirectory(t, from+" -> backup -> "+to, srcSnap, got)
			if t.Failed() {
				return
			}
			// Every user is now there and equal, but the target drifts: another client
			// changes a few users, adds a few the source does not have, and changes two
			// groups' members. The nightly
			// clone's re-run, server to server with --upsert --mirror, finds the rest
			// unchanged, puts back exactly the changed, whatever the change was, removes
			// the added (--mirror deactivates, active=false; --mirror-delete deletes) and
			// duplicates nothing (the snapshot fails on a userName or group held twice).
			t.Run("upsert re-run", func(t *testing.T) {
				// Both servers keep meta.lastModified to the second at least: start the
				// drift on a fresh second, so --since that second finds the drifted only.
				since := time.Now().Add(time.Second).Truncate(time.Second)
				time.Sleep(time.Until(since))
				drifted := drift(t, dst, got.list, 12)
				driftMembers(t, dst, got.list)
				var extra []string
				for i := range 3 {
					name := fmt.Sprintf("only.on.target.%d@example.org", i)
					u := map[string]any{"schemas": []any{coreUserURN}, "userName": name, "active": true}
					if _, err := dst.call(http.MethodPost, "Users", u, nil); err != nil {
						t.Fatal(err)
					}
					extra = append(extra, name)
				}
				t.Run("--since", func(t *testing.T) {
					file := filepath.Join(t.TempDir(), "since.ndjson")
					ferry(t, dst.endpoint(), file, "--since", since.Format(time.RFC3339))
					want := slices.Sorted(slices.Values(append(slices.Clone(drifted), extra...)))
					if got := userNames(t, file); !slices.Equal(got, want) {
						t.Errorf("--since %s from %s read %v, want the changed and added users %v", since.Format(time.RFC3339), to, got, want)
					}
				})
				mode := []string{"--mirror"}
				if to == "scimmy" {
					mode = append(mode, "--mirror-delete")
				}
				sum := ferry(t, src.endpoint(), dst.target(), append([]string{"--create-missing-roles", "--upsert"}, mode...)...)
				if sum.Read != nUsers || sum.Written != len(drifted) || sum.Skipped != nUsers-len(drifted) || sum.Rejected != 0 {
					t.Errorf("upsert re-run: %+v, want %d read, the %d drifted written, the rest skipped as unchanged", sum, nUsers, len(drifted))
				}
				again := dst.snapshot(t)
				for _, name := range extra {
					u, ok := again.users[strings.ToLower(name)]
					switch {
					case len(mode) == 2 && ok:
						t.Errorf("%v: %s is still on %s, want deleted", mode, name, to)
					case len(mode) == 1 && (!ok || u["active"] != false):
						t.Errorf("%v: %s on %s is %v, want kept with active false", mode, name, to, u)
					}
					delete(again.users, strings.ToLower(name))
				}
				compareDirectory(t, from+" -> "+to+" after drift and --upsert "+strings.Join(mode, " "), srcSnap, again)
			})
		})
	}
}

// drift changes n of the listed users on s over plain HTTP with PUT, as another client would: each
// one a different kind of change (a core attribute, a value inside the custom extension, a
// value removed from a multi-valued attribute, the custom multi-valued attribute, the
// enterprise extension, the custom extension removed), and returns their userNames, sorted.
func drift(t *testing.T, s server, list []map[string]any, n int) []string {
	t.Helper()
	changes := []func(u map[string]any){
		func(u map[string]any) { u["title"] = "Drifted" },
		func(u map[string]any) { u[acmeURN].(map[string]any)["level"] = 99 },
		func(u map[string]any) { u["emails"] = asSlice(u["emails"])[:1] },
		func(u map[string]any) { u[acmeURN].(map[string]any)["skills"] = []any{"cobol"} },
		func(u map[string]any) { u[enterpriseURN].(map[string]any)["costCenter"] = "CC-drift" },
		func(u map[string]any) { delete(u, acmeURN) },
	}
	var names []string
	for i := range n {
		u := deepCopy(list[i*len(list)/n]).(map[string]any)
		id := asString(u["id"])
		delete(u, "id")
		delete(u, "meta")
		changes[i%len(changes)](u)
		if _, err := s.call(http.MethodPut, "Users/"+id, u, nil); err != nil {
			t.Fatal(err)
		}
		names = append(names, asString(u["userName"]))
	}
	slices.Sort(names)
	return names
}

// driftMembers removes one member from the first group and adds a non-member to the
// second, by PATCH, as another client would; a re-run with --upsert --mirror undoes both.
func driftMembers(t *testing.T, s server, users []map[string]any) {
	t.Helper()
	groups := s.list(t, "Groups")
	slices.SortFunc(groups, func(a, b map[string]any) int {
		return strings.Compare(asString(a["displayName"]), asString(b["displayName"]))
	})
	if len(groups) < 2 {
		t.Fatalf("%s has %d groups", s.kind, len(groups))
	}
	members := asSlice(groups[0]["members"])
	if len(members) == 0 {
		t.Fatalf("%s: group %v has no members", s.kind, groups[0]["displayName"])
	}
	gone := asString(members[0].(map[string]any)["value"])
	in := map[string]bool{}
	for _, m := range asSlice(groups[1]["members"]) {
		in[asString(m.(map[string]any)["value"])] = true
	}
	var outsider string
	for _, u := range users {
		if id := asString(u["id"]); !in[id] {
			outsider = id
			break
		}
	}
	patch := func(g map[string]any, op map[string]any) {
		body := map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []any{op}}
		if _, err := s.call(http.MethodPatch, "Groups/"+asString(g["id"]), body, nil); err != nil {
			t.Fatal(err)
		}
	}
	patch(groups[0], map[string]any{"op": "remove", "path": `members[value eq "` + gone + `"]`})
	patch(groups[1], map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": outsider}}})
}

// userNames reads the userNames of a SCIM backup file (NDJSON), sorted.
func userNames(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		var u struct {
			UserName string `json:"userName"`
		}
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		names = append(names, u.UserName)
	}
	slices.Sort(names)
	return names
}

// compareDirectory compares the users, and in a subtest the groups and their members.
func compareDirectory(t *testing.T, what string, want, got snapshot) {
	t.Helper()
	compareUsers(t, what, want, got)
	t.Run("groups", func(t *testing.T) {
		compareGroups(t, what, want, got)
	})
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
