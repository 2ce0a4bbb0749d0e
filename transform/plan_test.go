package transform

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
)

// planUsers makes n users whose metadata has a type conflict, roles and a few rule hits.
func planUsers(n int) []*schemas.User {
	var us []*schemas.User
	for i := 0; i < n; i++ {
		var um string
		switch i % 4 {
		case 0:
			um = fmt.Sprintf(`{"age":%d}`, i)
		case 1:
			um = fmt.Sprintf(`{"age":"%d","pref.x":1}`, i)
		case 2:
			um = `{"age":"unknown"}`
		default:
			um = `{"age":null,"tags":["a",1]}`
		}
		u := testUser(fmt.Sprintf("user%03d@example.com", i), `{"plan":"pro"}`, um)
		u.Roles = []schemas.MultiValued{{Value: []string{"admin", "viewer"}[i%2]}}
		us = append(us, u)
	}
	return us
}

// observeAll runs the chain and the planner over users with the given number of workers.
func observeAll(t *testing.T, users []*schemas.User, workers int) *Plan {
	t.Helper()
	ps := mustPolicies(t, DefaultPolicyConfig(), nil)
	pl := NewPlanner()
	ch := make(chan *schemas.User)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range ch {
				c := &Changes{}
				err := ApplyAll(ps, u, c)
				pl.Observe(u, c.List, err)
			}
		}()
	}
	for _, u := range users {
		ch <- u
	}
	close(ch)
	wg.Wait()
	return pl.Result()
}

func TestPlannerTypesIgnoreOrder(t *testing.T) {
	// Whatever the workers' interleaving (and so whichever type the chain saw first), the
	// plan counts the source's types and chooses the same type.
	seq := observeAll(t, planUsers(200), 1)
	par := observeAll(t, planUsers(200), 8)
	if !reflect.DeepEqual(seq.Paths, par.Paths) {
		t.Fatalf("paths differ:\n%+v\n%+v", seq.Paths, par.Paths)
	}
	if !reflect.DeepEqual(seq.Roles, par.Roles) || seq.Users != 200 || par.Users != 200 {
		t.Fatalf("roles or users differ: %+v %+v", seq.Roles, par.Roles)
	}
	var age *PathTypes
	for i := range seq.Paths {
		if seq.Paths[i].Path == "user_metadata.age" {
			age = &seq.Paths[i]
		}
	}
	want := map[string]int64{"number": 50, "string": 100, "null": 50}
	if age == nil || !reflect.DeepEqual(age.Types, want) || age.NumericStrings != 50 {
		t.Fatalf("age = %+v, want types %v with 50 numeric strings", age, want)
	}
	// number: 50 "unknown" cannot convert; string: every value can. string it is.
	if age.Chosen != "string" || age.Uncoercible != 0 || !age.Conflict {
		t.Fatalf("age chosen %s (%d uncoercible)", age.Chosen, age.Uncoercible)
	}
	total := int64(0)
	for _, n := range seq.Outcomes {
		total += n
	}
	if total != 200 {
		t.Fatalf("outcomes %v do not add up to 200", seq.Outcomes)
	}
	for _, r := range seq.Rules {
		if len(r.Examples) == 0 || len(r.Examples) > 3 {
			t.Errorf("rule %s examples %v", r.Rule, r.Examples)
		}
		if r.Rule == RuleFieldNames && strings.Join(r.Examples, ",") != "user001@example.com,user005@example.com,user009@example.com" {
			t.Errorf("field-names examples %v, want the first three in order", r.Examples)
		}
	}
	var text bytes.Buffer
	if err := par.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"200 users read", "user_metadata.age: number 50, string 100 (50 numeric), null 50 -> string", "admin", "field-names"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// With the plan, migrate is deterministic: the same users come out the same whatever the
// worker count, and none is rejected for a type the plan resolved.
func TestMigrateWithPlanIsDeterministic(t *testing.T) {
	plan := observeAll(t, planUsers(200), 4)
	run := func(workers int) []string {
		ps := mustPolicies(t, DefaultPolicyConfig(), plan)
		users := planUsers(200)
		out := make([]string, len(users))
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < len(users); i += workers {
					err := ApplyAll(ps, users[i], &Changes{})
					out[i] = string(users[i].Ferry.UserMetadata) + fmt.Sprint(err)
				}
			}(w)
		}
		wg.Wait()
		return out
	}
	a, b := run(1), run(8)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("migrate with a plan depends on the worker count")
	}
	for _, s := range a {
		if !strings.HasSuffix(s, "<nil>") {
			t.Fatalf("rejected with a plan: %s", s)
		}
	}
	if !strings.Contains(a[0], `"age":"0"`) {
		t.Fatalf("numbers should have become strings: %s", a[0])
	}
}

func TestPlanOversizeAndRejections(t *testing.T) {
	pl := NewPlanner()
	pl.MaxOversize = 2
	ps := mustPolicies(t, DefaultPolicyConfig(), nil)
	for i, kb := range []int{12, 20, 15, 1100, 1} {
		u := testUser(fmt.Sprintf("u%d", i), "", fmt.Sprintf(`{"blob":%q}`, strings.Repeat("x", kb*1024)))
		c := &Changes{}
		err := ApplyAll(ps, u, c)
		pl.Observe(u, c.List, err)
	}
	p := pl.Result()
	if p.OversizeTotal != 4 || len(p.Oversize) != 2 || !p.Oversize[0].Rejected || p.Oversize[0].User != "u3" || p.Oversize[1].User != "u1" {
		t.Fatalf("oversize %d %+v", p.OversizeTotal, p.Oversize)
	}
	if len(p.Rejections) != 1 || p.Rejections[0].Rule != RuleProfileSize {
		t.Fatalf("rejections %+v", p.Rejections)
	}
	var text bytes.Buffer
	p.WriteText(&text)
	if !strings.Contains(text.String(), "... and 2 more") || !strings.Contains(text.String(), "rejected") {
		t.Fatalf("text:\n%s", text.String())
	}
}
