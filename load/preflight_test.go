package load

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	sandbox "github.com/ferry-dev/ferry/internal/sandbox/auth0"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("..", "fixtures", "load", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestDiff(t *testing.T) {
	P := func(r, s string) core.Permission { return core.Permission{Resource: r, Scope: s} }
	have := &core.Catalog{
		Roles: []core.Role{
			{Name: "viewer", Permissions: []core.Permission{P("api", "read")}},
			{Name: "editor", Permissions: []core.Permission{P("api", "read")}},
		},
		Scopes: []core.Permission{P("api", "read"), P("api", "write")},
	}
	tests := []struct {
		name string
		need *core.Catalog
		want *RolesDiff
	}{
		{"nothing needed", &core.Catalog{}, &RolesDiff{}},
		{"all there", &core.Catalog{Roles: []core.Role{{Name: "viewer", Permissions: []core.Permission{P("api", "read")}}}}, &RolesDiff{}},
		{"missing role with new scope on new resource", &core.Catalog{Roles: []core.Role{
			{Name: "admin", Permissions: []core.Permission{P("api", "write"), P("billing", "refund"), P("api", "write")}}}},
			&RolesDiff{
				MissingRoles:     []core.Role{{Name: "admin", Permissions: []core.Permission{P("api", "write"), P("billing", "refund")}}},
				MissingScopes:    map[string][]string{"billing": {"refund"}},
				MissingResources: []string{"billing"},
			}},
		{"role lacks a permission", &core.Catalog{Roles: []core.Role{{Name: "editor", Permissions: []core.Permission{P("api", "read"), P("api", "write"), P("api", "admin")}}}},
			&RolesDiff{
				MissingPermissions: map[string][]core.Permission{"editor": {P("api", "write"), P("api", "admin")}},
				MissingScopes:      map[string][]string{"api": {"admin"}},
			}},
		{"role names are case-sensitive", &core.Catalog{Roles: []core.Role{{Name: "Viewer"}}},
			&RolesDiff{MissingRoles: []core.Role{{Name: "Viewer"}}}},
		{"unassigned scope", &core.Catalog{Scopes: []core.Permission{P("api", "export")}},
			&RolesDiff{MissingScopes: map[string][]string{"api": {"export"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.need, have)
			if got.Text() != tc.want.Text() || got.Empty() != tc.want.Empty() {
				t.Fatalf("got\n%s\nwant\n%s", got.Text(), tc.want.Text())
			}
			if !slices.Equal(got.MissingResources, tc.want.MissingResources) {
				t.Fatalf("resources %v, want %v", got.MissingResources, tc.want.MissingResources)
			}
			if err := got.Err(); (err != nil) != !tc.want.Empty() || (err != nil && !errors.Is(err, core.ErrAborted)) {
				t.Fatalf("Err() = %v", err)
			}
		})
	}
}

func TestNeedCatalog(t *testing.T) {
	src := gen.Catalog(1)
	need := NeedCatalog(src, []string{"viewer", "ghost", "viewer", ""})
	if len(need.Roles) != 2 || need.Roles[0].Name != "ghost" || len(need.Roles[0].Permissions) != 0 ||
		need.Roles[1].Name != "viewer" || len(need.Roles[1].Permissions) != 2 || len(need.Scopes) != 2 {
		t.Fatalf("%+v", need)
	}
}

// Against the sandbox: an empty target lists exactly the needed roles and scopes; creating
// them keeps scopes the target already had; a second preflight finds nothing missing.
func TestPreflightAuth0(t *testing.T) {
	tn := newTenant(t, sandbox.Config{EmptyCatalog: true})
	sink := tn.sink(t)
	ctx := context.Background()
	// The target already has the API with a scope of its own, which must survive.
	if err := sink.api.c.PostJSON(ctx, "resource-servers", map[string]any{
		"name": "api", "identifier": gen.APIResource, "scopes": []map[string]string{{"value": "keep:me", "description": "theirs"}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	need := NeedCatalog(gen.Catalog(1), []string{"admin", "viewer", "support"})
	need.Scopes = append(need.Scopes, core.Permission{Resource: gen.BillingResource, Scope: "refund:invoices"})

	_, err := Ensure(ctx, need, sink, false)
	if !errors.Is(err, ErrRolesMissing) || !errors.Is(err, core.ErrAborted) {
		t.Fatalf("Ensure without create: %v", err)
	}
	diff, err := Preflight(ctx, need, sink)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "preflight_auth0_empty.txt", diff.Text())

	if _, err := Ensure(ctx, need, sink, true); err != nil {
		t.Fatalf("Ensure with create: %v", err)
	}
	after, err := Preflight(ctx, need, sink)
	if err != nil || !after.Empty() {
		t.Fatalf("after create: %v\n%s", err, after.Text())
	}
	cat, err := sink.Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cat.Scopes, core.Permission{Resource: gen.APIResource, Scope: "keep:me"}) {
		t.Fatalf("existing scope dropped: %v", cat.Scopes)
	}
	// Copying again is a no-op: no duplicate roles.
	if err := CreateMissing(ctx, diff, sink); err != nil {
		t.Fatal(err)
	}
	cat2, _ := sink.Roles(ctx)
	if len(cat2.Roles) != len(cat.Roles) || len(cat2.Scopes) != len(cat.Scopes) {
		t.Fatalf("second copy changed the catalog: %d/%d roles, %d/%d scopes", len(cat2.Roles), len(cat.Roles), len(cat2.Scopes), len(cat.Scopes))
	}
	if !strings.Contains(diff.Text(), "the resource itself is not in the target") {
		t.Fatal("missing resource server not flagged")
	}
}

// roles copy: the whole source catalog into an empty tenant, then the diff is empty.
func TestRolesCopyAuth0(t *testing.T) {
	src := newTenant(t, sandbox.Config{})
	dst := newTenant(t, sandbox.Config{EmptyCatalog: true})
	ctx := context.Background()
	srcCat, err := src.sink(t).Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The system API differs per tenant and is never copied, nor listed in a catalog.
	for _, p := range srcCat.Scopes {
		if strings.HasSuffix(p.Resource, "/api/v2/") {
			t.Fatalf("the catalog lists the system API's scope %s", p.Scope)
		}
	}
	d := dst.sink(t)
	if _, err := Ensure(ctx, srcCat, d, true); err != nil {
		t.Fatal(err)
	}
	got, err := d.Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := Diff(srcCat, got); !diff.Empty() {
		t.Fatalf("after copy:\n%s", diff.Text())
	}
}

// Paging: a tenant capping per_page at 50 (public cloud) and more roles than one page.
func TestAuth0CatalogPaging(t *testing.T) {
	for _, maxPer := range []int{50, 100} {
		tn := newTenant(t, sandbox.Config{EmptyCatalog: true, MaxPerPage: maxPer})
		s := tn.sink(t)
		var want core.Catalog
		for i := 0; i < 130; i++ {
			want.Roles = append(want.Roles, core.Role{Name: "role-" + pad5(i),
				Permissions: []core.Permission{{Resource: "https://api.example.com/", Scope: "s:" + pad5(i%7)}}})
		}
		ctx := context.Background()
		if _, err := Ensure(ctx, &want, s, true); err != nil {
			t.Fatalf("per_page %d: %v", maxPer, err)
		}
		got, err := s.Roles(ctx)
		// 7 scopes: the system Management API's are not the tenant's to copy.
		if err != nil || len(got.Roles) != 130 || len(got.Scopes) != 7 {
			t.Fatalf("per_page %d: %d roles, %d scopes, %v", maxPer, len(got.Roles), len(got.Scopes), err)
		}
	}
}
