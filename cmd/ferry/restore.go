package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/run"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

// A restore rehearsal (`ferry verify BACKUP --restore-to auth0|appid`) proves a backup
// restores: it starts an empty sandbox tenant in-process, runs the real restore
// (`ferry migrate --from BACKUP --to SANDBOX --create-missing-roles`), reads the tenant
// back and compares users, roles (with permissions, spelled as the target spells them)
// and memberships with the backup. Cron-friendly: exit 0 only when they are equal.

// RestoreReport is what a rehearsal found.
type RestoreReport struct {
	Target      string   `json:"target"`
	Users       int      `json:"users"`
	Roles       int      `json:"roles"`
	Memberships int      `json:"memberships"`
	Differences []string `json:"differences,omitempty"`
	Equal       bool     `json:"equal"`
}

// sandboxEnv is e with the sandboxes' credentials in its environment: they reach the
// commands the way real ones do.
func sandboxEnv(e *env, rs ...*sandbox.Running) *env {
	creds := map[string]string{}
	for _, r := range rs {
		for k, v := range r.Env {
			creds[k] = v
		}
	}
	sub := *e
	sub.getenv = func(k string) string {
		if v, ok := creds[k]; ok {
			return v
		}
		return e.getenv(k)
	}
	return &sub
}

// rehearseRestore restores path into a fresh sandbox of provider and compares.
func rehearseRestore(ctx context.Context, e *env, path, provider string) (*RestoreReport, error) {
	if provider != "auth0" && provider != "appid" {
		return nil, fmt.Errorf("--restore-to %q: say auth0 or appid (a throwaway sandbox tenant): %w", provider, core.ErrUsage)
	}
	sb, err := sandbox.Start(sandbox.Spec{Provider: provider, Seed: 2, Empty: true, Plan: "none"})
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	sub := sandboxEnv(e, sb)
	var out bytes.Buffer
	sub.stdout, sub.stderr = &out, &out
	rep := &RestoreReport{Target: "sandbox " + provider}
	code := dispatch(ctx, sub, []string{"migrate", "--from", path, "--to", sb.Endpoint, "--create-missing-roles", "--no-progress"})
	if code != exitOK {
		rep.Differences = append(rep.Differences, fmt.Sprintf("the restore exited %d: %s", code, strings.TrimSpace(out.String())))
	}
	opt := core.Options{Getenv: sub.getenv}
	src, err := extract.Open(ctx, path, opt)
	if err != nil {
		return nil, err
	}
	tgt, err := extract.Open(ctx, sb.Endpoint, opt)
	if err != nil {
		return nil, err
	}
	sink, err := load.Open(ctx, sb.Endpoint, opt)
	if err != nil {
		return nil, err
	}
	want, err := usersOf(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("read the backup: %w", err)
	}
	got, err := usersOf(ctx, tgt)
	if err != nil {
		return nil, fmt.Errorf("read the restored tenant: %w", err)
	}
	rep.Differences = append(rep.Differences, compareUsers(want, got)...)
	rep.Users = len(got)
	for _, rs := range got {
		rep.Memberships += len(rs)
	}
	wantCat, err := src.(core.RoleReader).Roles(ctx)
	if errors.Is(err, core.ErrNoCatalog) {
		// An older backup: what it can promise is the roles its users reference.
		var names []string
		for _, rs := range want {
			names = append(names, rs...)
		}
		wantCat, err = load.NeedCatalog(nil, names), nil
	}
	if err != nil {
		return nil, err
	}
	if m, ok := sink.(core.CatalogMapper); ok {
		wantCat = m.MapCatalog(wantCat)
	}
	gotCat, err := tgt.(core.RoleReader).Roles(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the restored tenant's roles: %w", err)
	}
	rep.Roles = len(gotCat.Roles)
	rep.Differences = append(rep.Differences, compareCatalogs(wantCat, gotCat)...)
	rep.Equal = len(rep.Differences) == 0
	return rep, nil
}

// usersOf reads every user of src: its key (primary e-mail, else userName, lowercased:
// the user ids differ per tenant) and its sorted role names.
func usersOf(ctx context.Context, src core.Source) (map[string][]string, error) {
	dec, err := transform.DecoderFor(src.Format())
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	err = src.Users(ctx, func(r core.Record) error {
		if r.Err != nil {
			return fmt.Errorf("%s: %w", r.Ref, r.Err)
		}
		u, err := dec.Decode(r.Data)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Ref, err)
		}
		key := strings.ToLower(u.UserName)
		for i, m := range u.Emails {
			if m.Value != "" && (m.Primary || i == 0) {
				key = strings.ToLower(m.Value)
			}
		}
		if _, dup := out[key]; dup {
			return fmt.Errorf("%s: two users share the key %q", r.Ref, key)
		}
		rs := run.UserRoles(u)
		slices.Sort(rs)
		out[key] = slices.Compact(rs)
		return nil
	})
	return out, err
}

func compareUsers(want, got map[string][]string) []string {
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("user %s: not restored", k))
		case !slices.Equal(want[k], g):
			diffs = append(diffs, fmt.Sprintf("user %s: roles %v in the backup, %v restored", k, want[k], g))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("user %s: in the restored tenant, not in the backup", k))
		}
	}
	return diffs
}

// compareCatalogs compares roles by name (description and permissions) and scopes by
// (resource, scope), both ways.
func compareCatalogs(want, got *core.Catalog) []string {
	var diffs []string
	roles := func(c *core.Catalog) map[string]core.Role {
		m := map[string]core.Role{}
		for _, r := range c.Roles {
			m[r.Name] = r
		}
		return m
	}
	w, g := roles(want), roles(got)
	for _, n := range slices.Sorted(maps.Keys(w)) {
		gr, ok := g[n]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("role %q: not restored", n))
			continue
		}
		if w[n].Description != "" && gr.Description != w[n].Description {
			diffs = append(diffs, fmt.Sprintf("role %q: description %q in the backup, %q restored", n, w[n].Description, gr.Description))
		}
		if a, b := permSet(w[n].Permissions), permSet(gr.Permissions); !slices.Equal(a, b) {
			diffs = append(diffs, fmt.Sprintf("role %q: permissions %v in the backup, %v restored", n, a, b))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[n]; !ok {
			diffs = append(diffs, fmt.Sprintf("role %q: in the restored tenant, not in the backup", n))
		}
	}
	ws, gs := allScopes(want), allScopes(got)
	for _, s := range ws {
		if !slices.Contains(gs, s) {
			diffs = append(diffs, "scope "+s+": not restored")
		}
	}
	for _, s := range gs {
		if !slices.Contains(ws, s) {
			diffs = append(diffs, "scope "+s+": in the restored tenant, not in the backup")
		}
	}
	return diffs
}

func permSet(ps []core.Permission) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Resource+" "+p.Scope)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// allScopes is every scope a catalog defines, its roles' permissions included.
func allScopes(c *core.Catalog) []string {
	ps := slices.Clone(c.Scopes)
	for _, r := range c.Roles {
		ps = append(ps, r.Permissions...)
	}
	return permSet(ps)
}

// printRestore prints a rehearsal's result and picks the exit status.
func printRestore(e *env, path string, rep *RestoreReport, asJSON bool) int {
	if asJSON {
		b, _ := json.Marshal(rep)
		fmt.Fprintln(e.stdout, string(b))
	}
	if !rep.Equal {
		for _, d := range rep.Differences {
			fmt.Fprintf(e.stderr, "ferry verify: restore to %s: %s\n", rep.Target, d)
		}
		return exitAborted
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "%s: restored into a %s: %d users, %d roles, %d memberships, equal to the backup\n", path, rep.Target, rep.Users, rep.Roles, rep.Memberships)
	}
	return exitOK
}
