package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/backup"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/ferry-dev/ferry/internal/sandbox/scim"
)

// scimTenant is a SCIM sandbox server the test holds directly, to seed groups and read
// them back; every tenant of a test takes the same token (one SCIM_TOKEN per run).
type scimTenant struct {
	srv      *scim.Server
	endpoint string
}

const groupsToken = "groups-test-token"

func newSCIMTenant(t *testing.T, users, groups int, cfg scim.Config) *scimTenant {
	t.Helper()
	for i := range users {
		cfg.Users = append(cfg.Users, gen.SCIM(7, i, gen.Options{}))
	}
	cfg.Token, cfg.BasePath = groupsToken, "/scim/v2"
	s, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, raw := range cfg.Users {
		var u struct {
			UserName string `json:"userName"`
		}
		_ = json.Unmarshal(raw, &u)
		names = append(names, u.UserName)
	}
	for g := range groups {
		var members []string
		for i, n := range names {
			if g == 0 || (i+g)%3 == 0 {
				members = append(members, n) // group 0 holds everyone: past any list limit
			}
		}
		if err := s.AddGroup(fmt.Sprintf("Group %d", g), members); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &scimTenant{srv: s, endpoint: "scim+" + ts.URL + "/scim/v2"}
}

// memberships maps each group to its members' userNames (sorted).
func (st *scimTenant) memberships() map[string][]string {
	out := map[string][]string{}
	for _, g := range st.srv.GroupNames() {
		out[g], _ = st.srv.GroupMembers(g)
	}
	return out
}

func diffMemberships(want, got map[string][]string) []string {
	var d []string
	for g, ms := range want {
		if other, ok := got[g]; !ok {
			d = append(d, "group "+g+" missing")
		} else if !slices.Equal(ms, other) {
			d = append(d, fmt.Sprintf("group %s: %d members, want %d", g, len(other), len(ms)))
		}
	}
	for g := range got {
		if _, ok := want[g]; !ok {
			d = append(d, "extra group "+g)
		}
	}
	slices.Sort(d)
	return d
}

func scimEnv(extra map[string]string) func(string) string {
	return func(k string) string {
		if k == "SCIM_TOKEN" {
			return groupsToken
		}
		return extra[k]
	}
}

// TestSCIMGroupsTravel: groups and memberships survive SCIM -> SCIM directly and through a
// backup, including a group larger than the source lists members for, into a target that
// takes few member changes per PATCH.
func TestSCIMGroupsTravel(t *testing.T) {
	limits := scim.Config{GroupListMembers: 10}
	src := newSCIMTenant(t, 40, 5, limits)
	want := src.memberships()
	if n := len(want["Group 0"]); n != 40 {
		t.Fatalf("seed: Group 0 has %d members", n)
	}
	dir := t.TempDir()
	bk := filepath.Join(dir, "scim.ndjson.gz")
	if code, _, errs := ferry(t, scimEnv(nil), "migrate", "--from", src.endpoint, "--to", bk, "--no-progress"); code != exitOK {
		t.Fatalf("backup: exit %d: %s", code, errs)
	}
	// The backup carries the groups in its catalog file.
	cat, err := backup.ReadCatalog(bk)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range cat.Roles {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, src.srv.GroupNames()) {
		t.Fatalf("backup catalog roles %v, want the groups %v", names, src.srv.GroupNames())
	}
	cases := []struct {
		name string
		from string
	}{
		{"scim to scim", src.endpoint},
		{"scim to backup to scim", bk},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := newSCIMTenant(t, 0, 0, scim.Config{GroupPatchMembers: 7})
			code, _, errs := ferry(t, scimEnv(nil), "migrate", "--from", c.from, "--to", dst.endpoint, "--no-progress")
			if code != exitAborted || !strings.Contains(errs, "missing role") {
				t.Fatalf("without --create-missing-roles: exit %d: %s", code, errs)
			}
			if code, _, errs := ferry(t, scimEnv(nil), "migrate", "--from", c.from, "--to", dst.endpoint, "--create-missing-roles", "--no-progress"); code != exitOK {
				t.Fatalf("migrate: exit %d: %s", code, errs)
			}
			if d := diffMemberships(want, dst.memberships()); len(d) > 0 {
				t.Fatalf("memberships differ: %v", d)
			}
			if dst.srv.Len() != 40 {
				t.Fatalf("%d users written, want 40", dst.srv.Len())
			}
		})
	}
}

// groupVersions is every group's ETag: a PATCH, even one that changes nothing, moves it.
func groupVersions(t *testing.T, st *scimTenant) map[string]string {
	t.Helper()
	url := strings.TrimPrefix(st.endpoint, "scim+") + "/Groups?excludedAttributes=members&count=100"
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+groupsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct {
		Resources []struct {
			DisplayName string `json:"displayName"`
			Meta        struct {
				Version string `json:"version"`
			} `json:"meta"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range l.Resources {
		out[g.DisplayName] = g.Meta.Version
	}
	return out
}

// TestSCIMGroupsUpsertAndMirror: a re-run with --upsert sends no membership twice (no
// group is touched), and --mirror takes a user out of a group it left in the source.
func TestSCIMGroupsUpsertAndMirror(t *testing.T) {
	src := newSCIMTenant(t, 12, 3, scim.Config{})
	dst := newSCIMTenant(t, 0, 0, scim.Config{})
	args := []string{"migrate", "--from", src.endpoint, "--to", dst.endpoint, "--create-missing-roles", "--no-progress"}
	if code, _, errs := ferry(t, scimEnv(nil), args...); code != exitOK {
		t.Fatalf("first run: exit %d: %s", code, errs)
	}
	before := groupVersions(t, dst)
	if code, _, errs := ferry(t, scimEnv(nil), append(args, "--upsert")...); code != exitOK {
		t.Fatalf("re-run: exit %d: %s", code, errs)
	}
	if after := groupVersions(t, dst); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a re-run with --upsert patched groups: %v -> %v", before, after)
	}
	if d := diffMemberships(src.memberships(), dst.memberships()); len(d) > 0 {
		t.Fatalf("after the re-run: %v", d)
	}
	// The source takes its first user out of Group 1 (by PUT with the others).
	members, _ := src.srv.GroupMembers("Group 1")
	if len(members) < 2 {
		t.Fatalf("seed: Group 1 has %v", members)
	}
	gone := members[0]
	if err := replaceGroup(src, "Group 1", members[1:]); err != nil {
		t.Fatal(err)
	}
	// Without --mirror the membership stays; with it, it goes.
	if code, _, errs := ferry(t, scimEnv(nil), append(args, "--upsert")...); code != exitOK {
		t.Fatalf("upsert: exit %d: %s", code, errs)
	}
	if got, _ := dst.srv.GroupMembers("Group 1"); !slices.Contains(got, gone) {
		t.Fatalf("without --mirror %s was taken out of Group 1", gone)
	}
	if code, _, errs := ferry(t, scimEnv(nil), append(args, "--upsert", "--mirror")...); code != exitOK {
		t.Fatalf("mirror: exit %d: %s", code, errs)
	}
	if d := diffMemberships(src.memberships(), dst.memberships()); len(d) > 0 {
		t.Fatalf("after --mirror: %v", d)
	}
}

// replaceGroup sets a group's members (by userName) in place, through the server's API.
func replaceGroup(st *scimTenant, name string, userNames []string) error {
	base := strings.TrimPrefix(st.endpoint, "scim+")
	do := func(method, path string, body any) (map[string]any, error) {
		var rd *strings.Reader
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+groupsToken)
		req.Header.Set("Content-Type", scim.MediaType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, m)
		}
		return m, nil
	}
	l, err := do("GET", "/Groups?excludedAttributes=members&filter="+strings.ReplaceAll(fmt.Sprintf(`displayName eq "%s"`, name), " ", "%20"), nil)
	if err != nil {
		return err
	}
	rs, _ := l["Resources"].([]any)
	if len(rs) != 1 {
		return fmt.Errorf("group %q: %d found", name, len(rs))
	}
	id, _ := rs[0].(map[string]any)["id"].(string)
	var ms []any
	for _, n := range userNames {
		uid, _ := st.srv.UserByName(n)
		ms = append(ms, map[string]any{"value": uid})
	}
	_, err = do("PUT", "/Groups/"+id, map[string]any{"displayName": name, "members": ms})
	return err
}

// TestAuth0RolesThroughSCIM: Auth0 roles become SCIM groups and come back as roles, so
// Auth0 -> SCIM -> Auth0 keeps who belongs to what; the change log says what SCIM
// groups cannot carry (descriptions, permissions).
func TestAuth0RolesThroughSCIM(t *testing.T) {
	src := startSandbox(t, sandbox.Spec{Provider: "auth0", Users: 60, Seed: 1})
	mid := newSCIMTenant(t, 0, 0, scim.Config{GroupPatchMembers: 5})
	dir := t.TempDir()
	changes := filepath.Join(dir, "changes.ndjson")
	env1 := getenvOf(map[string]string{"SCIM_TOKEN": groupsToken}, src)
	if code, _, errs := ferry(t, env1, "migrate", "--from", src.Endpoint, "--to", mid.endpoint, "--create-missing-roles", "--no-progress", "--changes", changes); code != exitOK && code != exitRejected {
		t.Fatalf("auth0 -> scim: exit %d: %s", code, errs)
	}
	log, err := os.ReadFile(changes)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), `"rule":"catalog-not-carried"`) || !strings.Contains(string(log), ".permissions") {
		t.Errorf("the change log does not say the roles' permissions were not carried")
	}
	dst := startSandbox(t, sandbox.Spec{Provider: "auth0", Seed: 5, Empty: true})
	env2 := getenvOf(map[string]string{"SCIM_TOKEN": groupsToken}, dst)
	if code, _, errs := ferry(t, env2, "migrate", "--from", mid.endpoint, "--to", dst.Endpoint, "--create-missing-roles", "--no-progress"); code != exitOK && code != exitRejected {
		t.Fatalf("scim -> auth0: exit %d: %s", code, errs)
	}
	want := membersOf(t, src.Endpoint, env1)
	got := membersOf(t, dst.Endpoint, env2)
	assigned, compared := 0, 0
	for k, rs := range got {
		w, ok := want[k]
		if !ok {
			t.Errorf("user %s is not in the source", k)
			continue
		}
		compared++
		assigned += len(w)
		if !slices.Equal(w, rs) {
			t.Errorf("user %s: roles %v in the source, %v after the round trip", k, w, rs)
		}
	}
	if assigned == 0 || compared < len(want)*3/4 {
		t.Fatalf("compared %d of %d users, %d memberships: too few to prove anything", compared, len(want), assigned)
	}
}
