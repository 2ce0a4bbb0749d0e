package transform

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func testUser(ref, app, um string) *schemas.User {
	u := &schemas.User{UserName: ref, Ferry: &schemas.FerryUser{}}
	if app != "" {
		u.Ferry.AppMetadata = json.RawMessage(app)
	}
	if um != "" {
		u.Ferry.UserMetadata = json.RawMessage(um)
	}
	return u
}

func mustPolicies(t testing.TB, cfg PolicyConfig, plan *Plan) []Policy {
	t.Helper()
	ps, err := NewPolicies(cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func cfgWith(mod func(*PolicyConfig)) PolicyConfig {
	cfg := DefaultPolicyConfig()
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

// apply runs a fresh chain on one user.
func apply(t testing.TB, cfg PolicyConfig, u *schemas.User) ([]Change, error) {
	t.Helper()
	c := &Changes{User: u.Ref()}
	err := ApplyAll(mustPolicies(t, cfg, nil), u, c)
	return c.List, err
}

func rejectionRule(err error) string {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Rule
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

// compact normalizes JSON for comparisons.
func compact(t testing.TB, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	v, err := mdParse([]byte(s))
	if err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return string(v.raw())
}

func rulesOf(chs []Change) string {
	var r []string
	for _, c := range chs {
		r = append(r, c.Rule+"@"+c.Path)
	}
	return strings.Join(r, " ")
}

type metaCase struct {
	name     string
	mod      func(*PolicyConfig)
	app, um  string
	wantApp  string // compared after compaction; "" means unchanged input
	wantUM   string
	wantRej  string // rule of the expected rejection
	wantRule string // a substring of rulesOf(changes)
}

func runMetaCases(t *testing.T, cases []metaCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := testUser("u1", tc.app, tc.um)
			chs, err := apply(t, cfgWith(tc.mod), u)
			if got := rejectionRule(err); got != tc.wantRej {
				t.Fatalf("rejection = %q (%v), want %q; changes %s", got, err, tc.wantRej, rulesOf(chs))
			}
			if tc.wantRej != "" {
				return
			}
			wantApp, wantUM := tc.wantApp, tc.wantUM
			if wantApp == "" {
				wantApp = tc.app
			}
			if wantUM == "" {
				wantUM = tc.um
			}
			if got := compact(t, string(u.Ferry.AppMetadata)); got != compact(t, wantApp) {
				t.Errorf("app_metadata = %s, want %s", got, compact(t, wantApp))
			}
			if got := compact(t, string(u.Ferry.UserMetadata)); got != compact(t, wantUM) {
				t.Errorf("user_metadata = %s, want %s", got, compact(t, wantUM))
			}
			if !strings.Contains(rulesOf(chs), tc.wantRule) {
				t.Errorf("changes %q do not contain %q", rulesOf(chs), tc.wantRule)
			}
		})
	}
}

func TestFieldNames(t *testing.T) {
	reject := func(c *PolicyConfig) { c.DollarMode = DollarReject }
	runMetaCases(t, []metaCase{
		{name: "clean", um: `{"color":"pink","n":[1,2]}`},
		{name: "dot expands", um: `{"preference.color":"pink"}`, wantUM: `{"preference":{"color":"pink"}}`,
			wantRule: `field-names@user_metadata["preference.color"]`},
		{name: "dot merges into existing object", um: `{"preference":{"size":1},"preference.color":"pink"}`,
			wantUM: `{"preference":{"size":1,"color":"pink"}}`, wantRule: "field-names"},
		{name: "deep dot", um: `{"a.b.c":true}`, wantUM: `{"a":{"b":{"c":true}}}`, wantRule: "field-names"},
		{name: "dot in array element", um: `{"list":[{"x.y":1}]}`, wantUM: `{"list":[{"x":{"y":1}}]}`,
			wantRule: `field-names@user_metadata.list[0]["x.y"]`},
		{name: "dot nested under dot", um: `{"a.b":{"c.d":1}}`, wantUM: `{"a":{"b":{"c":{"d":1}}}}`,
			wantRule: `field-names@user_metadata["a.b"]["c.d"]`},
		{name: "escaped dot", um: `{"a\u002eb":1}`, wantUM: `{"a":{"b":1}}`, wantRule: "field-names"},
		{name: "collision with scalar", um: `{"a":1,"a.b":2}`, wantRej: RuleFieldNames},
		{name: "collision with nested value", um: `{"a.b":1,"a":{"b":2}}`, wantRej: RuleFieldNames},
		{name: "same value twice is no collision", um: `{"a.b":1,"a":{"b":1}}`, wantUM: `{"a":{"b":1}}`, wantRule: "field-names"},
		{name: "objects merge", um: `{"a.b":{"x":1},"a":{"b":{"y":2}}}`, wantUM: `{"a":{"b":{"x":1,"y":2}}}`, wantRule: "field-names"},
		{name: "empty part", um: `{"a..b":1}`, wantRej: RuleFieldNames},
		{name: "trailing dot", um: `{"a.":1}`, wantRej: RuleFieldNames},
		{name: "dollar replaced", um: `{"$set":{"x":1}}`, wantUM: `{"_set":{"x":1}}`, wantRule: `field-names@user_metadata.$set`},
		{name: "dollar rejected", mod: reject, um: `{"$set":1}`, wantRej: RuleFieldNames},
		{name: "dollar replacement collides", um: `{"$a":1,"_a":2}`, wantRej: RuleFieldNames},
		{name: "dollar and dot", um: `{"price.$usd":3}`, wantUM: `{"price":{"_usd":3}}`, wantRule: "field-names"},
		{name: "app_metadata too", app: `{"flags.beta":true}`, wantApp: `{"flags":{"beta":true}}`, wantRule: "field-names@app_metadata"},
		{name: "duplicate names logged", um: `{"a.b":1,"x":1,"x":2}`, wantUM: `{"a":{"b":1},"x":2}`, wantRule: "duplicate-key@user_metadata.x"},
		{name: "not an object", um: `[1,2]`, wantRej: RuleMetadataJSON},
		{name: "invalid JSON", um: `{"a":}`, wantRej: RuleMetadataJSON},
		{name: "invalid UTF-8", um: "{\"a\":\"\xff\"}", wantRej: RuleMetadataJSON},
		{name: "null metadata", um: `null`},
	})
}

func TestReservedKeys(t *testing.T) {
	mode := func(m string) func(*PolicyConfig) { return func(c *PolicyConfig) { c.ReservedMode = m } }
	runMetaCases(t, []metaCase{
		{name: "rename", app: `{"email":"a@b.c","plan":"pro"}`, wantApp: `{"ferry_email":"a@b.c","plan":"pro"}`,
			wantRule: "reserved-keys@app_metadata.email"},
		{name: "rename with custom prefix", mod: func(c *PolicyConfig) { c.ReservedPrefix = "legacy_" },
			app: `{"user_id":7}`, wantApp: `{"legacy_user_id":7}`, wantRule: "reserved-keys"},
		{name: "drop", mod: mode(ReservedDrop), app: `{"blocked":true,"plan":"pro"}`, wantApp: `{"plan":"pro"}`,
			wantRule: "reserved-keys@app_metadata.blocked"},
		{name: "reject", mod: mode(ReservedReject), app: `{"__tenant":"x"}`, wantRej: RuleReservedKeys},
		{name: "rename collides", app: `{"email":"x","ferry_email":"y"}`, wantRej: RuleReservedKeys},
		{name: "only at the top of app_metadata", app: `{"profile":{"email":"x"}}`, um: `{"email":"x"}`},
		{name: "case matters", app: `{"Email":"x","clientid":1}`},
	})
}

func TestRootShadow(t *testing.T) {
	runMetaCases(t, []metaCase{
		{name: "warn", app: `{"groups":["internal"]}`, wantRule: "root-shadow@app_metadata.groups"},
		{name: "rename", mod: func(c *PolicyConfig) { c.ShadowMode = ShadowRename },
			app: `{"groups":["internal"],"name":"x"}`, wantApp: `{"ferry_groups":["internal"],"ferry_name":"x"}`,
			wantRule: "root-shadow@app_metadata.groups"},
		{name: "rename collides", mod: func(c *PolicyConfig) { c.ShadowMode = ShadowRename },
			app: `{"picture":"x","ferry_picture":"y"}`, wantRej: RuleRootShadow},
		{name: "user_metadata is not merged", um: `{"groups":["x"]}`},
	})
	// A warning rewrites nothing: no before, no after.
	u := testUser("u", `{"groups":["internal"]}`, "")
	chs, _ := apply(t, DefaultPolicyConfig(), u)
	if len(chs) != 1 || ChangeKind(chs[0]) != "warning" || chs[0].Note == "" {
		t.Fatalf("want one warning, got %+v", chs)
	}
}

func TestDynamicNames(t *testing.T) {
	u := testUser("u", "", `{"participants":{"alice@example.com":{"role":"sender"},"bob@example.com":{"role":"receiver"}},"2024-01-31":1}`)
	chs, err := apply(t, DefaultPolicyConfig(), u)
	if err != nil {
		t.Fatal(err)
	}
	got := rulesOf(chs)
	for _, want := range []string{"dynamic-names@user_metadata.participants", "dynamic-names@user_metadata"} {
		if !strings.Contains(got, want) {
			t.Errorf("changes %q lack %q", got, want)
		}
	}
	for _, ch := range chs {
		if ch.Rule != RuleDynamicNames {
			continue
		}
		if strings.Contains(ch.Note, "alice") || ChangeKind(ch) != "warning" {
			t.Errorf("dynamic-names change must be a warning without the names: %+v", ch)
		}
	}
	for key, want := range map[string]string{
		"alice@example.com": "e-mail", "12345": "number", "2024-01-31": "date",
		"0b9e3f3c-6f7e-4c1e-9a4b-1d2e3f4a5b6c": "uuid", "5f1d7c2ab3e4f5a6b7c8d9e0": "hex id",
		"auth0|5f1d7c": "user id", "color": "", "given_name": "", "deadbeef": "",
	} {
		if got := dynamicKeyKind([]byte(key)); got != want {
			t.Errorf("dynamicKeyKind(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestTargets(t *testing.T) {
	um := `{"preference.color":"pink","card":"4111 1111 1111 1111"}`
	app := `{"email":"x"}`
	for _, tc := range []struct {
		target string
		want   string // rules expected, in order
	}{
		{TargetAuth0, "pii field-names reserved-keys"},
		{"", "pii field-names reserved-keys"},
		{TargetAppID, "pii"},
		{TargetSCIM, "pii"},
		{TargetFile, "pii"},
	} {
		u := testUser("u", app, um)
		chs, err := apply(t, cfgWith(func(c *PolicyConfig) { c.Target = tc.target }), u)
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, ch := range chs {
			if len(rules) == 0 || rules[len(rules)-1] != ch.Rule {
				rules = append(rules, ch.Rule)
			}
		}
		if got := strings.Join(rules, " "); got != tc.want {
			t.Errorf("target %q: rules %q, want %q", tc.target, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, mod := range []func(*PolicyConfig){
		func(c *PolicyConfig) { c.Target = "ldap" },
		func(c *PolicyConfig) { c.DollarMode = "drop" },
		func(c *PolicyConfig) { c.DollarReplacement = "." },
		func(c *PolicyConfig) { c.ReservedMode = "keep" },
		func(c *PolicyConfig) { c.ReservedPrefix = "" },
		func(c *PolicyConfig) { c.ReservedPrefix = "a.b" },
		func(c *PolicyConfig) { c.ReservedPrefix = "email" },
		func(c *PolicyConfig) { c.ShadowMode = "drop" },
		func(c *PolicyConfig) { c.TypeMode = "coerce" },
		func(c *PolicyConfig) { c.PII = "ignore" },
		func(c *PolicyConfig) { c.DefaultPicture = "ftp://x/y.png" },
		func(c *PolicyConfig) { c.DefaultPicture = "not a url" },
	} {
		if _, err := NewPolicies(cfgWith(mod), nil); err == nil {
			t.Errorf("config %+v accepted", cfgWith(mod))
		}
	}
	if _, err := NewPolicies(DefaultPolicyConfig(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestApplyAllStopsAtFirstRejection(t *testing.T) {
	u := testUser("u", `{"email":"x","flags.beta":true}`, `{"card":"4111111111111111"}`)
	cfg := cfgWith(func(c *PolicyConfig) { c.PII = PIIReject })
	chs, err := apply(t, cfg, u)
	var rej *Rejection
	if !errors.As(err, &rej) || rej.Rule != RulePII || rej.Path != "user_metadata.card" {
		t.Fatalf("err = %v, want a pii rejection at user_metadata.card", err)
	}
	if len(chs) != 0 {
		t.Fatalf("no rule after the rejection may run: %s", rulesOf(chs))
	}
	if strings.Contains(err.Error(), "4111") {
		t.Fatalf("rejection leaks the card number: %v", err)
	}
}

func TestNoFerryExtension(t *testing.T) {
	u := &schemas.User{UserName: "plain"}
	chs, err := apply(t, cfgWith(func(c *PolicyConfig) { c.DefaultPicture = "https://cdn.example/d.png" }), u)
	if err != nil || len(u.Photos) != 1 || rulesOf(chs) != "default-picture@picture" {
		t.Fatalf("err %v, photos %v, changes %s", err, u.Photos, rulesOf(chs))
	}
}

// Each policy's Apply (without the chain's shared scan) gives what ApplyAll gives.
func TestApplyMatchesApplyAll(t *testing.T) {
	app := `{"email":"x","groups":["g"],"flags.beta":true}`
	um := `{"preference.color":"pink","card":"4111111111111111","$v":1,"bio":"` + strings.Repeat("y", 300) + `"}`
	cfg := cfgWith(func(c *PolicyConfig) { c.PII = PIIRedact; c.TruncateSearch = true })
	a := testUser("u", app, um)
	ca := &Changes{}
	if err := ApplyAll(mustPolicies(t, cfg, nil), a, ca); err != nil {
		t.Fatal(err)
	}
	b := testUser("u", app, um)
	cb := &Changes{User: "u"}
	for _, p := range mustPolicies(t, cfg, nil) {
		if err := p.Apply(b, cb); err != nil {
			t.Fatal(err)
		}
	}
	if string(a.Ferry.AppMetadata) != string(b.Ferry.AppMetadata) || string(a.Ferry.UserMetadata) != string(b.Ferry.UserMetadata) {
		t.Fatalf("Apply and ApplyAll differ:\n%s %s\n%s %s", a.Ferry.AppMetadata, a.Ferry.UserMetadata, b.Ferry.AppMetadata, b.Ferry.UserMetadata)
	}
	if rulesOf(ca.List) != rulesOf(cb.List) {
		t.Fatalf("changes differ:\n%s\n%s", rulesOf(ca.List), rulesOf(cb.List))
	}
}
