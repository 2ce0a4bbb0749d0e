package schemas

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

// referencePath is the RFC's own §8.7.1 JSON. CI clones the repo with shared/ beside it;
// FERRY_SHARED_DIR points elsewhere (a worktree, say).
func referencePath() string {
	if d := os.Getenv("FERRY_SHARED_DIR"); d != "" {
		return filepath.Join(d, "reference", "rfc7643-schemas.json")
	}
	return filepath.Join("..", "..", "shared", "reference", "rfc7643-schemas.json")
}

func loadReference(t *testing.T) []any {
	t.Helper()
	b, err := os.ReadFile(referencePath())
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skipf("reference schemas not found at %s (set FERRY_SHARED_DIR); CI=true makes this a failure", referencePath())
	}
	if err != nil {
		t.Fatalf("reference schemas: %v", err)
	}
	var ref []any
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("reference schemas: %v", err)
	}
	return ref
}

func loadEmbedded(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := defsFS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// knownDefects are the RFC JSON's two errors (DESIGN.md), which the embedded definitions
// correct. Exactly these differences are allowed: a third one fails the test, and so does
// a defect left uncorrected.
var knownDefects = []string{
	CoreUserURN + ": addresses.primary: not in the reference",
	CoreUserURN + ": x509Certificates.value.caseExact: embedded true, reference false",
}

func TestEmbeddedMatchReference(t *testing.T) {
	ref := loadReference(t)
	embedded := map[string]map[string]any{}
	for _, f := range defFiles[:3] {
		m := loadEmbedded(t, f)
		embedded[m["id"].(string)] = m
	}
	var diffs []string
	seen := map[string]bool{}
	for _, r := range ref {
		rs := r.(map[string]any)
		id, _ := rs["id"].(string)
		ours, ok := embedded[id]
		if !ok {
			diffs = append(diffs, id+": not embedded")
			continue
		}
		seen[id] = true
		diffs = append(diffs, diffObject(id+": ", ours, rs, "attributes")...)
		diffs = append(diffs, diffAttrs(id+": ", "", ours["attributes"], rs["attributes"])...)
	}
	for id := range embedded {
		if !seen[id] {
			diffs = append(diffs, id+": not in the reference")
		}
	}
	sort.Strings(diffs)
	want := slices.Clone(knownDefects)
	sort.Strings(want)
	if !slices.Equal(diffs, want) {
		t.Errorf("embedded definitions differ from RFC 7643 §8.7.1 other than by its two known defects:\ngot:\n  %s\nwant:\n  %s",
			strings.Join(diffs, "\n  "), strings.Join(want, "\n  "))
	}
}

// diffObject compares every property of two objects but the skipped ones.
func diffObject(prefix string, ours, ref map[string]any, skip ...string) []string {
	var diffs []string
	for _, k := range unionKeys(ours, ref) {
		if slices.Contains(skip, k) {
			continue
		}
		o, inOurs := ours[k]
		r, inRef := ref[k]
		switch {
		case !inOurs:
			diffs = append(diffs, fmt.Sprintf("%s%s: missing, reference %v", prefix, k, r))
		case !inRef:
			diffs = append(diffs, fmt.Sprintf("%s%s: embedded %v, not in the reference", prefix, k, o))
		case !reflect.DeepEqual(o, r):
			diffs = append(diffs, fmt.Sprintf("%s%s: embedded %v, reference %v", prefix, k, o, r))
		}
	}
	return diffs
}

// diffAttrs compares two attribute lists by name, every property, recursively.
func diffAttrs(prefix, path string, ours, ref any) []string {
	byName := func(list any) (map[string]map[string]any, []string) {
		m := map[string]map[string]any{}
		var order []string
		l, _ := list.([]any)
		for _, a := range l {
			am := a.(map[string]any)
			n, _ := am["name"].(string)
			m[n] = am
			order = append(order, n)
		}
		return m, order
	}
	om, oorder := byName(ours)
	rm, rorder := byName(ref)
	var diffs []string
	for _, n := range unionKeys(om, rm) {
		p := n
		if path != "" {
			p = path + "." + n
		}
		o, inOurs := om[n]
		r, inRef := rm[n]
		switch {
		case !inOurs:
			diffs = append(diffs, prefix+p+": missing from the embedded definition")
		case !inRef:
			diffs = append(diffs, prefix+p+": not in the reference")
		default:
			diffs = append(diffs, diffObject(prefix+p+".", o, r, "subAttributes")...)
			diffs = append(diffs, diffAttrs(prefix, p, o["subAttributes"], r["subAttributes"])...)
		}
	}
	// The order is part of the text a /Schemas endpoint serves: keep the RFC's.
	oorder = slices.DeleteFunc(oorder, func(n string) bool { _, ok := rm[n]; return !ok })
	if !slices.Equal(oorder, rorder) && len(oorder) == len(rorder) {
		diffs = append(diffs, fmt.Sprintf("%s%s: attribute order %v, reference %v", prefix, path, oorder, rorder))
	}
	return diffs
}

func unionKeys[V any](a, b map[string]V) []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// The corrected addresses.primary must look like every other primary sub-attribute.
func TestAddressesPrimaryLikeOtherPrimaries(t *testing.T) {
	u := lookupDef(CoreUserURN)
	addr, _ := mustAttr(u, "addresses").Sub("primary")
	if addr == nil {
		t.Fatal("addresses.primary is not defined")
	}
	for _, name := range []string{"emails", "phoneNumbers", "ims", "photos", "entitlements", "roles", "x509Certificates"} {
		p, ok := mustAttr(u, name).Sub("primary")
		if !ok {
			t.Fatalf("%s.primary is not defined", name)
		}
		a, b := *addr, *p
		a.Description, b.Description = "", ""
		if !reflect.DeepEqual(a, b) {
			t.Errorf("addresses.primary %+v differs from %s.primary %+v", a, name, b)
		}
	}
}

// Definitions must marshal back to exactly the embedded text (as JSON values): that is what
// a /Schemas endpoint serves.
func TestDefinitionsRoundTrip(t *testing.T) {
	got := Definitions()
	if len(got) != len(defFiles) {
		t.Fatalf("Definitions() has %d schemas, want %d", len(got), len(defFiles))
	}
	for i, f := range defFiles {
		want := loadEmbedded(t, f)
		b, err := json.Marshal(got[i])
		if err != nil {
			t.Fatalf("marshal %s: %v", got[i].ID, err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("%s: marshalled definition differs from %s:\n%s", got[i].ID, f, b)
		}
		if got[i].Meta == nil || got[i].Meta.ResourceType != "Schema" || got[i].Meta.Location != "/v2/Schemas/"+got[i].ID {
			t.Errorf("%s: meta = %+v, want resourceType Schema and its location", got[i].ID, got[i].Meta)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		urn  string
		want string
		ok   bool
	}{
		{CoreUserURN, "User", true},
		{strings.ToUpper(CoreUserURN), "User", true},
		{CoreGroupURN, "Group", true},
		{EnterpriseUserURN, "EnterpriseUser", true},
		{FerryUserURN, "FerryUser", true},
		{"urn:ietf:params:scim:schemas:core:2.0:Nope", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		s, ok := Lookup(tt.urn)
		if ok != tt.ok || (ok && s.Name != tt.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %s, %v", tt.urn, s, ok, tt.want, tt.ok)
		}
	}
}

// Callers get copies: changing one must not change what Validate reads.
func TestDefinitionsAreCopies(t *testing.T) {
	s, _ := Lookup(CoreUserURN)
	emails, _ := s.Attr("emails")
	typ, _ := emails.Sub("type")
	typ.CanonicalValues[0] = "changed"
	typ.CanonicalValues = append(typ.CanonicalValues, "personal")
	d := Definitions()
	d[0].Attributes[0].Name = "changed"

	again, _ := Lookup(CoreUserURN)
	if again.Attributes[0].Name != "userName" {
		t.Error("Definitions returned the shared definition")
	}
	e2, _ := again.Attr("emails")
	t2, _ := e2.Sub("type")
	if !slices.Equal(t2.CanonicalValues, []string{"work", "home", "other"}) {
		t.Errorf("Lookup returned the shared definition: emails.type canonical values %v", t2.CanonicalValues)
	}
}

// The ferry extension describes every FerryUser field, by its JSON name.
func TestFerryDefinitionCoversFerryUser(t *testing.T) {
	def := lookupDef(FerryUserURN)
	typ := reflect.TypeOf(FerryUser{})
	var fields []string
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
		a, ok := def.Attr(name)
		if !ok {
			t.Errorf("FerryUser.%s (%s) has no attribute in the ferry schema", typ.Field(i).Name, name)
			continue
		}
		if a.Name != name {
			t.Errorf("ferry schema spells %q as %q", name, a.Name)
		}
	}
	for _, a := range def.Attributes {
		if !slices.Contains(fields, a.Name) {
			t.Errorf("ferry schema attribute %s has no FerryUser field", a.Name)
		}
	}
	for _, secret := range []string{"passwordHash", "customPasswordHash", "mfaFactors"} {
		if a, _ := def.Attr(secret); a.Returned != "never" || a.Mutability != "writeOnly" {
			t.Errorf("%s: returned %q mutability %q, want never/writeOnly", secret, a.Returned, a.Mutability)
		}
	}
}

// The User Go type has a field for every attribute of the core and enterprise definitions.
func TestGoTypesCoverDefinitions(t *testing.T) {
	check := func(typ reflect.Type, attrs []Attribute, path string) {
		t.Helper()
		tags := map[string]reflect.Type{}
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			tags[name] = typ.Field(i).Type
		}
		for _, a := range attrs {
			if _, ok := tags[a.Name]; !ok {
				t.Errorf("%s%s has no Go field", path, a.Name)
			}
		}
	}
	check(reflect.TypeOf(User{}), lookupDef(CoreUserURN).Attributes, "")
	check(reflect.TypeOf(EnterpriseUser{}), lookupDef(EnterpriseUserURN).Attributes, "enterprise:")
	check(reflect.TypeOf(Name{}), mustAttr(coreUser, "name").SubAttributes, "name.")
	check(reflect.TypeOf(Address{}), ruleAddresses.attr.SubAttributes, "addresses.")
	check(reflect.TypeOf(Manager{}), mustAttr(mustDef(EnterpriseUserURN), "manager").SubAttributes, "manager.")
	for _, r := range []*mvRule{ruleEmails, rulePhoneNumbers, ruleIMs, rulePhotos, ruleGroups, ruleEntitlements, ruleRoles, ruleX509Certificates} {
		check(reflect.TypeOf(MultiValued{}), r.attr.SubAttributes, r.name+".")
	}
}
