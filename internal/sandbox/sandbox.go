// Package sandbox starts the emulated tenants (Auth0, App ID, SCIM) on loopback, seeded
// with generated users, optionally behind fault injection: one entry point for
// `ferry sandbox`, `ferry demo` and tests that need a tenant by URL.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ferry-dev/ferry/internal/appidapi"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/sandbox/appid"
	"github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/segmentio/encoding/json"
)

// Spec says which tenant to start.
type Spec struct {
	Provider string // auth0, appid, scim
	Users    int
	Seed     int64
	Nasty    float64
	Plan     string // Auth0 rate-limit plan: free, self-service, enterprise, none
	Faults   string // faults.Parse syntax; empty for none
	Listen   string // default 127.0.0.1:0
	// Empty starts a tenant with no users and (Auth0) no roles: a migration target.
	Empty bool
	// SCIMExtensions are custom User extension schemas (RFC 7643 §7) the SCIM tenant
	// publishes and accepts, beside the enterprise one.
	SCIMExtensions []json.RawMessage
	// SCIMGroups seeds that many SCIM groups (deterministic names and
	// memberships, the first group holding every user); SCIMGroupListMembers and
	// SCIMGroupPatchMembers set the tenant's member limits (scim.Config).
	SCIMGroups            int
	SCIMGroupListMembers  int
	SCIMGroupPatchMembers int
}

// Running is a started tenant.
type Running struct {
	Provider string            `json:"provider"`
	URL      string            `json:"url"`
	Endpoint string            `json:"endpoint"` // the SRC/DST string that reaches it
	Env      map[string]string `json:"env"`      // the credentials it accepts
	srv      *http.Server
	done     chan error
}

// Close stops the server.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}

// Wait blocks until the server stops.
func (r *Running) Wait() error { return <-r.done }

// Start builds the tenant and serves it.
func Start(spec Spec) (*Running, error) {
	if spec.Listen == "" {
		spec.Listen = "127.0.0.1:0"
	}
	if err := loopbackOnly(spec.Listen); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", spec.Listen)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	base := "http://" + ln.Addr().String()
	r := &Running{Provider: spec.Provider, URL: base, done: make(chan error, 1)}
	var h http.Handler
	var errBody func(status int) (string, []byte)
	n := spec.Users
	if spec.Empty {
		n = 0
	}
	switch spec.Provider {
	case "auth0":
		s, err := auth0.New(auth0.Config{Users: n, Seed: spec.Seed, Nasty: spec.Nasty, Plan: spec.Plan, EmptyCatalog: spec.Empty})
		if err != nil {
			ln.Close()
			return nil, err
		}
		h, r.Endpoint, r.Env = s.Handler(), s.Endpoint(base), s.Env()
	case "appid":
		cfg := appid.Config{UserCount: n, UserGen: func(i int) []byte { return gen.AppID(spec.Seed, i, gen.Options{Nasty: spec.Nasty}) }}
		cfg.Applications, cfg.Roles = appIDCatalog(spec.Seed)
		if spec.Empty {
			// A migration target as one finds it: the applications are registered (ferry
			// does not create OAuth clients), their scopes and the roles are not.
			for i := range cfg.Applications {
				cfg.Applications[i].Scopes = nil
			}
			cfg.Roles = nil
		}
		s, err := appid.New(cfg)
		if err != nil {
			ln.Close()
			return nil, err
		}
		h, r.Endpoint = s.Handler(), s.Endpoint(base)
		r.Env = map[string]string{"IBMCLOUD_API_KEY": s.Credentials().APIKey}
		errBody = appid.ErrorBody
	case "scim":
		users := make([]json.RawMessage, n)
		for i := range users {
			users[i] = gen.SCIM(spec.Seed, i, gen.Options{Nasty: spec.Nasty})
		}
		s, err := scim.New(scim.Config{Users: users, BasePath: "/scim/v2", Extensions: spec.SCIMExtensions,
			GroupListMembers: spec.SCIMGroupListMembers, GroupPatchMembers: spec.SCIMGroupPatchMembers})
		if err == nil {
			err = seedSCIMGroups(s, users, spec.SCIMGroups, spec.Seed)
		}
		if err != nil {
			ln.Close()
			return nil, err
		}
		h = s.Handler()
		r.Endpoint = "scim+" + base + "/scim/v2"
		r.Env = map[string]string{"SCIM_TOKEN": s.Token()}
		errBody = scim.ErrorBody
	default:
		ln.Close()
		return nil, fmt.Errorf("sandbox: unknown provider %q (have auth0, appid, scim): %w", spec.Provider, core.ErrUsage)
	}
	if spec.Faults != "" {
		fc, err := faults.Parse(spec.Faults)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("sandbox: --faults: %v: %w", err, core.ErrUsage)
		}
		h = faults.New(h, fc, faults.Hooks{ErrorBody: errBody})
	}
	r.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := r.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		r.done <- err
	}()
	return r, nil
}

// appIDCatalog turns the generated roles catalog into App ID applications and roles:
// a resource server becomes an application named after it, a permission a scope spelled
// as App ID accepts it.
func appIDCatalog(seed int64) ([]appid.AppSeed, []appid.RoleSeed) {
	cat := gen.Catalog(seed)
	scopes := map[string][]string{}
	for _, p := range cat.Scopes {
		scopes[p.Resource] = append(scopes[p.Resource], appidapi.Scope(p.Scope))
	}
	var apps []appid.AppSeed
	for name, sc := range scopes {
		apps = append(apps, appid.AppSeed{Name: name, Scopes: sc})
	}
	var roles []appid.RoleSeed
	for _, r := range cat.Roles {
		acc := map[string][]string{}
		for _, p := range r.Permissions {
			acc[p.Resource] = append(acc[p.Resource], appidapi.Scope(p.Scope))
		}
		roles = append(roles, appid.RoleSeed{Name: r.Name, Description: r.Description, Access: acc})
	}
	return apps, roles
}

// loopbackOnly refuses to serve a sandbox, whose credentials are printed, beyond this host.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("sandbox: --listen %q: %v: %w", addr, err, core.ErrUsage)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("sandbox: --listen %q: sandboxes serve loopback addresses only: %w", addr, core.ErrUsage)
	}
	return nil
}

// seedSCIMGroups creates n groups over the seeded users: "Everyone" holds all of them (a
// group past any list limit), the others a deterministic share each.
func seedSCIMGroups(s *scim.Server, users []json.RawMessage, n int, seed int64) error {
	if n <= 0 {
		return nil
	}
	names := make([]string, len(users))
	for i, raw := range users {
		var u struct {
			UserName string `json:"userName"`
		}
		_ = json.Unmarshal(raw, &u)
		names[i] = u.UserName
	}
	for g := range n {
		name := "Everyone"
		var members []string
		if g == 0 {
			members = names
		} else {
			name = fmt.Sprintf("Team %02d", g)
			for i, u := range names {
				if (int64(i)*31+int64(g)*17+seed)%int64(n+2) == 0 {
					members = append(members, u)
				}
			}
		}
		if err := s.AddGroup(name, members); err != nil {
			return err
		}
	}
	return nil
}
