package transform

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestTypesFirstSeen runs users through one chain in order: the first type seen wins.
func TestTypesFirstSeen(t *testing.T) {
	stringify := func(c *PolicyConfig) { c.TypeMode = TypesCoerceOrStringify }
	for _, tc := range []struct {
		name   string
		mod    func(*PolicyConfig)
		users  []string // user_metadata, in order
		want   []string // user_metadata after, or "reject"
		change string   // note substring expected on the last user's change
	}{
		{name: "numeric string coerced", users: []string{`{"age":23}`, `{"age":"24"}`},
			want: []string{`{"age":23}`, `{"age":24}`}, change: "coerced to number"},
		{name: "boolean string coerced", users: []string{`{"ok":true}`, `{"ok":"false"}`},
			want: []string{`{"ok":true}`, `{"ok":false}`}, change: "coerced to boolean"},
		{name: "number to string is lossless", users: []string{`{"zip":"75001"}`, `{"zip":75002}`},
			want: []string{`{"zip":"75001"}`, `{"zip":"75002"}`}, change: "coerced to string"},
		{name: "leading zero is not numeric", users: []string{`{"zip":1}`, `{"zip":"02139"}`},
			want: []string{`{"zip":1}`, "reject"}},
		{name: "exponent is not canonical", users: []string{`{"n":1}`, `{"n":"1e3"}`}, want: []string{`{"n":1}`, "reject"}},
		{name: "16 digits lose precision", users: []string{`{"n":1}`, `{"n":"1234567890123456"}`}, want: []string{`{"n":1}`, "reject"}},
		{name: "reject uncoercible", users: []string{`{"age":23}`, `{"age":"old"}`}, want: []string{`{"age":23}`, "reject"}},
		{name: "stringify keeps a string", mod: stringify, users: []string{`{"age":23}`, `{"age":"old"}`},
			want: []string{`{"age":23}`, `{"age":"old"}`}, change: "kept as a string"},
		{name: "stringify an object", mod: stringify, users: []string{`{"addr":"Paris"}`, `{"addr":{"city":"Lyon"}}`},
			want: []string{`{"addr":"Paris"}`, `{"addr":"{\"city\":\"Lyon\"}"}`}, change: "stored as a string"},
		{name: "array elements share a path", users: []string{`{"ids":[1,"2"]}`}, want: []string{`{"ids":[1,2]}`}, change: "coerced"},
		{name: "null fits every type", users: []string{`{"age":23}`, `{"age":null}`}, want: []string{`{"age":23}`, `{"age":null}`}},
		{name: "nested paths", users: []string{`{"p":{"n":1}}`, `{"p":{"n":"2"}}`}, want: []string{`{"p":{"n":1}}`, `{"p":{"n":2}}`}, change: "coerced"},
		{name: "data-like names share a path", users: []string{`{"by":{"1001":1}}`, `{"by":{"1002":"2"}}`},
			want: []string{`{"by":{"1001":1}}`, `{"by":{"1002":2}}`}, change: "coerced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := mustPolicies(t, cfgWith(tc.mod), nil)
			var last *Changes
			for i, um := range tc.users {
				u := testUser(fmt.Sprint("u", i), "", um)
				c := &Changes{}
				err := ApplyAll(ps, u, c)
				last = c
				if tc.want[i] == "reject" {
					if rejectionRule(err) != RuleTypes {
						t.Fatalf("user %d: err %v, want a type rejection", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("user %d: %v", i, err)
				}
				if got := string(u.Ferry.UserMetadata); compact(t, got) != compact(t, tc.want[i]) {
					t.Errorf("user %d: %s, want %s", i, got, tc.want[i])
				}
			}
			if tc.change != "" {
				found := false
				for _, ch := range last.List {
					found = found || (ch.Rule == RuleTypes && strings.Contains(ch.Note, tc.change))
				}
				if !found {
					t.Errorf("no type change noting %q in %+v", tc.change, last.List)
				}
			}
		})
	}
}

// TestTypesWithPlan: a plan fixes each path's type whatever the order users come in.
func TestTypesWithPlan(t *testing.T) {
	plan := &Plan{Paths: []PathTypes{
		{Path: "user_metadata.age", Types: map[string]int64{"string": 60, "number": 40}, NumericStrings: 60},
		{Path: "user_metadata.code", Types: map[string]int64{"string": 70, "number": 30}, NumericStrings: 10},
	}}
	ps := mustPolicies(t, DefaultPolicyConfig(), plan)
	for _, tc := range []struct{ in, want string }{
		// Both types convert losslessly: the majority wins, so numbers become strings.
		{`{"age":23}`, `{"age":"23"}`},
		{`{"age":"23"}`, `{"age":"23"}`},
		// code: number cannot take 60 of the strings, string takes everything.
		{`{"code":5}`, `{"code":"5"}`},
	} {
		u := testUser("u", "", tc.in)
		if err := ApplyAll(ps, u, &Changes{}); err != nil {
			t.Fatal(err)
		}
		if got := string(u.Ferry.UserMetadata); got != tc.want {
			t.Errorf("%s -> %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestChooseType(t *testing.T) {
	for _, tc := range []struct {
		pt      PathTypes
		mode    string
		want    string
		wantUnc int64
	}{
		{PathTypes{Types: map[string]int64{"string": 50, "number": 50}, NumericStrings: 50}, TypesCoerceOrReject, "number", 0},
		{PathTypes{Types: map[string]int64{"string": 60, "number": 40}, NumericStrings: 60}, TypesCoerceOrReject, "string", 0},
		{PathTypes{Types: map[string]int64{"string": 10, "number": 90}, NumericStrings: 7}, TypesCoerceOrReject, "string", 0},
		{PathTypes{Types: map[string]int64{"object": 90, "string": 10}}, TypesCoerceOrReject, "object", 10},
		{PathTypes{Types: map[string]int64{"object": 90, "string": 10}}, TypesCoerceOrStringify, "string", 0},
		{PathTypes{Types: map[string]int64{"boolean": 5, "string": 5}, BooleanStrings: 5}, TypesCoerceOrReject, "boolean", 0},
		{PathTypes{Types: map[string]int64{"null": 5}}, TypesCoerceOrReject, "null", 0},
		{PathTypes{Types: map[string]int64{"array": 3, "null": 5}}, TypesCoerceOrReject, "array", 0},
	} {
		k, unc := chooseType(tc.pt, tc.mode)
		if k.String() != tc.want || unc != tc.wantUnc {
			t.Errorf("chooseType(%v, %s) = %s, %d; want %s, %d", tc.pt.Types, tc.mode, k, unc, tc.want, tc.wantUnc)
		}
	}
}

func TestNumericLossless(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "23": true, "-23": true, "1.5": true, "-0.25": true, "123456789012345": true,
		"": false, "-": false, "-0": false, "023": false, "1.50": false, "1.": false, ".5": false,
		"1e3": false, "+1": false, " 1": false, "1234567890123456": false, "0x10": false, "NaN": false,
	} {
		if got := numericLossless(s); got != want {
			t.Errorf("numericLossless(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestTypesConcurrent shares one chain between workers: whichever type is seen first, every
// user that is not rejected ends with that same type at the path. Run with -race.
func TestTypesConcurrent(t *testing.T) {
	ps := mustPolicies(t, DefaultPolicyConfig(), nil)
	const workers, per = 8, 200
	type result struct {
		md  string
		err error
	}
	results := make([][]result, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				var um string
				switch (w + i) % 3 {
				case 0:
					um = fmt.Sprintf(`{"age":%d,"tags.main":"x"}`, i)
				case 1:
					um = fmt.Sprintf(`{"age":"%d"}`, i+1)
				default:
					um = `{"age":"unknown"}`
				}
				u := testUser(fmt.Sprintf("w%d-%d", w, i), `{"email":"x"}`, um)
				err := ApplyAll(ps, u, &Changes{})
				results[w] = append(results[w], result{string(u.Ferry.UserMetadata), err})
			}
		}(w)
	}
	wg.Wait()
	kinds := map[mdKind]int{}
	for _, rs := range results {
		for _, r := range rs {
			if r.err != nil {
				if rejectionRule(r.err) != RuleTypes {
					t.Fatalf("unexpected error %v", r.err)
				}
				continue
			}
			v, err := mdParse([]byte(r.md))
			if err != nil {
				t.Fatal(err)
			}
			age, _ := v.get("age")
			kinds[age.kind]++
		}
	}
	if len(kinds) != 1 {
		t.Fatalf("age has several types after the policy: %v", kinds)
	}
}

// TestTypeRegistryBound: the registry remembers at most max paths (a source whose keys are
// data must not grow it without end); paths it knows keep their first type, and a path
// past the bound is reported as not checked rather than given a type.
func TestTypeRegistryBound(t *testing.T) {
	r := newTypeRegistry(3)
	for i, p := range []string{"a", "b", "c"} {
		if k, ok := r.firstSeen([]byte(p), mdKind(i+1)); !ok || k != mdKind(i+1) {
			t.Fatalf("%s: got %v %v, want its own first type", p, k, ok)
		}
	}
	if _, ok := r.firstSeen([]byte("d"), mdString); ok {
		t.Error("a fourth path was registered past the bound of 3")
	}
	for i, p := range []string{"a", "b", "c"} {
		if k, ok := r.firstSeen([]byte(p), mdNull); !ok || k != mdKind(i+1) {
			t.Errorf("%s: got %v %v after the bound, want its first type %v", p, k, ok, mdKind(i+1))
		}
	}
	if n := r.n.Load(); n != 3 {
		t.Errorf("registry counts %d paths, want 3", n)
	}
}
