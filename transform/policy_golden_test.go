package transform

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

const policyFixtures = "../fixtures/policies"

func goldenConfig() PolicyConfig {
	cfg := DefaultPolicyConfig()
	cfg.Target = TargetAuth0
	cfg.DefaultPicture = "https://cdn.example/default.png"
	return cfg
}

func readNastyUsers(t testing.TB) []*schemas.User {
	t.Helper()
	f, err := os.Open(filepath.Join(policyFixtures, "nasty_users.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := DecoderFor(core.FormatSCIM)
	if err != nil {
		t.Fatal(err)
	}
	var users []*schemas.User
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		u, err := dec.Decode(append([]byte(nil), sc.Bytes()...))
		if err != nil {
			t.Fatalf("fixture line %d: %v", len(users)+1, err)
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return users
}

type userResult struct {
	User         string                `json:"user"`
	Rejection    *Rejection            `json:"rejection,omitempty"`
	AppMetadata  json.RawMessage       `json:"appMetadata,omitempty"`
	UserMetadata json.RawMessage       `json:"userMetadata,omitempty"`
	Photos       []schemas.MultiValued `json:"photos,omitempty"`
}

// runNasty runs the fixture users in file order through one chain (so first-seen types
// are deterministic) and returns the change log, the per-user results and the plan.
func runNasty(t testing.TB, cfg PolicyConfig, plan *Plan) (changes, results []byte, p *Plan) {
	t.Helper()
	ps := mustPolicies(t, cfg, plan)
	pl := NewPlanner()
	pl.Config = cfg
	var cb, rb bytes.Buffer
	var all []Change
	for _, u := range readNastyUsers(t) {
		c := &Changes{User: u.Ref()}
		err := ApplyAll(ps, u, c)
		pl.Observe(u, c.List, err)
		all = append(all, c.List...)
		for _, ch := range c.List {
			line, _ := json.Marshal(ch)
			cb.Write(append(line, '\n'))
		}
		r := userResult{User: u.Ref(), AppMetadata: u.Ferry.AppMetadata, UserMetadata: u.Ferry.UserMetadata, Photos: u.Photos}
		if err != nil && !errors.As(err, &r.Rejection) {
			t.Fatalf("%s: non-rejection error %v", u.Ref(), err)
		}
		line, _ := json.Marshal(r)
		rb.Write(append(line, '\n'))
	}
	assertNoSecrets(t, all)
	return cb.Bytes(), rb.Bytes(), pl.Result()
}

func policyGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenFile(t, filepath.Join(policyFixtures, name), got)
}

func TestGoldenNastyUsers(t *testing.T) {
	cfg := goldenConfig()
	changes, results, plan := runNasty(t, cfg, nil)
	policyGolden(t, "changes.ndjson.golden", changes)
	policyGolden(t, "results.ndjson.golden", results)

	var text bytes.Buffer
	if err := plan.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	policyGolden(t, "plan.txt.golden", text.Bytes())
	pj, _ := json.MarshalIndent(plan, "", "  ")
	policyGolden(t, "plan.json.golden", append(pj, '\n'))

	// migrate --plan: the plan's types, not the first user's, decide.
	_, withPlan, _ := runNasty(t, cfg, plan)
	policyGolden(t, "results_with_plan.ndjson.golden", withPlan)
}

func TestPlanSaveLoad(t *testing.T) {
	_, _, plan := runNasty(t, goldenConfig(), nil)
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := plan.Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600", st.Mode().Perm())
	}
	back, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plan, back) {
		t.Errorf("plan changed through Save/Load:\n%+v\n%+v", plan, back)
	}
	for name, body := range map[string]string{
		"version": `{"version":99}`,
		"types":   `{"version":1,"paths":[{"path":"x","types":{"float":1}}]}`,
		"syntax":  `{"version":1,`,
	} {
		bad := filepath.Join(t.TempDir(), name+".json")
		os.WriteFile(bad, []byte(body), 0o600)
		if _, err := LoadPlan(bad); err == nil {
			t.Errorf("LoadPlan accepted a plan with a bad %s", name)
		}
	}
	if _, err := LoadPlan(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadPlan of a missing file succeeded")
	}
}
