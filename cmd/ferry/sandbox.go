package main

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func init() {
	commands["sandbox"] = command{"serve an emulated Auth0, App ID or SCIM tenant on loopback", cmdSandbox}
}

const sandboxExamples = `  ferry sandbox --provider auth0 --users 5000 --plan free
  ferry sandbox --provider scim --users 100 --faults latency=50ms,5xx=0.05,seed=7 --json
  # in another shell, with the printed credentials exported:
  ferry migrate --from 'auth0://sandbox?base=http://127.0.0.1:PORT' --to backup.ndjson.gz`

func cmdSandbox(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "sandbox", "ferry sandbox --provider auth0|appid|scim [--users N] [--plan P] [--faults SPEC] [--listen ADDR] [--json]", sandboxExamples)
	var spec sandbox.Spec
	fs.StringVar(&spec.Provider, "provider", "auth0", "auth0, appid or scim")
	fs.IntVar(&spec.Users, "users", 1000, "generated users to seed the tenant with")
	fs.Int64Var(&spec.Seed, "seed", 1, "seed of the generated users")
	fs.Float64Var(&spec.Nasty, "nasty", 0.05, "share of awkward users (see ferry gen)")
	fs.StringVar(&spec.Plan, "plan", "none", "Auth0 rate limits: free, self-service, enterprise or none")
	fs.StringVar(&spec.Faults, "faults", "", "fault injection, e.g. latency=50ms,5xx=0.05,drop=0.01,truncate=0.01,slow=0.01,seed=7")
	fs.StringVar(&spec.Listen, "listen", "127.0.0.1:0", "address to serve on (loopback only)")
	fs.BoolVar(&spec.Empty, "empty", false, "start without users or roles (a migration target)")
	asJSON := fs.Bool("json", false, `print one line {"provider","url","endpoint","env"} and serve`)
	fs.Func("scim-extension", "a file holding a custom User extension schema (RFC 7643 §7) the SCIM tenant publishes and accepts; repeatable", func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		defs, err := schemas.ParseSchemas(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, d := range defs {
			raw, err := json.Marshal(d)
			if err != nil {
				return err
			}
			spec.SCIMExtensions = append(spec.SCIMExtensions, raw)
		}
		return nil
	})
	if _, code, ok := parse(e, fs, args); !ok {
		return code
	}
	r, err := sandbox.Start(spec)
	if err != nil {
		fmt.Fprintf(e.stderr, "ferry sandbox: %v\n", err)
		return exitFor(err)
	}
	if *asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(e.stdout, string(b))
	} else {
		fmt.Fprintf(e.stdout, "%s sandbox serving at %s\nendpoint: %s\ncredentials (sandbox only):\n", r.Provider, r.URL, r.Endpoint)
		keys := make([]string, 0, len(r.Env))
		for k := range r.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(e.stdout, "  export %s=%s\n", k, r.Env[k])
		}
		fmt.Fprintln(e.stdout, "interrupt to stop")
	}
	select {
	case <-ctx.Done():
	case <-e.stop:
	}
	r.Close()
	return exitOK
}
