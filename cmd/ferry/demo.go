package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/sandbox"
)

func init() {
	commands["demo"] = command{"sandbox Auth0 -> sandbox App ID + a backup file, end to end", cmdDemo}
}

const demoExamples = `  ferry demo
  ferry demo --users 10000 --dir ./demo-out`

// cmdDemo runs what a user would do for a real migration, against two local sandboxes:
// plan, copy the roles, migrate, back up, verify. Every step is the real command.
func cmdDemo(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "demo", "ferry demo [--users N] [--dir DIR]", demoExamples)
	users := fs.Int("users", 3000, "users in the sandbox Auth0 tenant")
	nasty := fs.Float64("nasty", 0.1, "share of awkward users")
	dir := fs.String("dir", "", "where to write the backup, rejects and change log (default: a new temp dir)")
	noProgress := fs.Bool("no-progress", false, "no progress display")
	if _, code, ok := parse(e, fs, args); !ok {
		return code
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "ferry-demo-")
		if err != nil {
			return fail(e, "demo", err)
		}
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fail(e, "demo", err)
	}
	start := time.Now()
	src, err := sandbox.Start(sandbox.Spec{Provider: "auth0", Users: *users, Seed: 1, Nasty: *nasty, Plan: "enterprise"})
	if err != nil {
		return fail(e, "demo", err)
	}
	defer src.Close()
	dst, err := sandbox.Start(sandbox.Spec{Provider: "appid", Seed: 2, Empty: true})
	if err != nil {
		return fail(e, "demo", err)
	}
	defer dst.Close()

	sub := sandboxEnv(e, src, dst)
	say := func(format string, a ...any) { fmt.Fprintf(e.stdout, "\n== "+format+"\n", a...) }
	progress := []string{}
	if *noProgress {
		progress = append(progress, "--no-progress")
	}
	backupPath := filepath.Join(*dir, "auth0-backup.ndjson.gz")
	steps := []struct {
		title string
		args  []string
		ok    func(int) bool
	}{
		{fmt.Sprintf("source: sandbox Auth0 with %d users at %s; target: empty sandbox App ID at %s", *users, src.URL, dst.URL), nil, nil},
		{"plan: what the migration would change (nothing is written)", append([]string{"plan", "--from", src.Endpoint, "--to", dst.Endpoint}, progress...), nil},
		{"roles: copy the roles and scopes the users need into App ID", []string{"roles", "copy", "--from", src.Endpoint, "--to", dst.Endpoint}, nil},
		{"migrate: Auth0 -> App ID", append([]string{"migrate", "--from", src.Endpoint, "--to", dst.Endpoint,
			"--rejects", filepath.Join(*dir, "appid-rejects.ndjson"), "--changes", filepath.Join(*dir, "appid-changes.ndjson")}, progress...),
			func(c int) bool { return c == exitOK || c == exitRejected }},
		{"backup: Auth0 -> " + backupPath, append([]string{"migrate", "--from", src.Endpoint, "--to", backupPath,
			"--rejects", filepath.Join(*dir, "backup-rejects.ndjson")}, progress...),
			func(c int) bool { return c == exitOK || c == exitRejected }},
		{"verify the backup against its manifest", []string{"verify", backupPath}, nil},
	}
	for _, st := range steps {
		say("%s", st.title)
		if st.args == nil {
			continue
		}
		fmt.Fprintf(e.stdout, "$ ferry %s\n", shellJoin(st.args))
		code := dispatch(ctx, sub, st.args)
		if ok := st.ok; (ok == nil && code != exitOK) || (ok != nil && !ok(code)) {
			fmt.Fprintf(e.stderr, "ferry demo: step failed with exit status %d\n", code)
			return exitAborted
		}
	}
	say("done in %s; files in %s (rejects and change logs are NDJSON: one user per line, with the reason or the original value)", time.Since(start).Round(100*time.Millisecond), *dir)
	return exitOK
}

// shellJoin prints args as a shell command line a reader can copy.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"&?$*") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
