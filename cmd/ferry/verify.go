package main

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/internal/backup"
	"github.com/segmentio/encoding/json"
)

func init() {
	commands["verify"] = command{"check a backup file against its manifest", cmdVerify}
}

const verifyExamples = `  ferry verify backup-2026-11-22.ndjson.gz
  ferry verify --json backup.ndjson.gz && echo "backup is sound"
  ferry verify --restore-to auth0 backup.ndjson.gz   # cron: a restore rehearsal into a throwaway sandbox`

func cmdVerify(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "verify", "ferry verify [--json] [--restore-to auth0|appid] BACKUP", verifyExamples)
	asJSON := fs.Bool("json", false, "print the result as one JSON object on stdout")
	restoreTo := fs.String("restore-to", "", "also restore the backup into a throwaway sandbox tenant (auth0 or appid) and compare users, roles and memberships")
	pos, code, ok := parse(e, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "ferry verify: name one backup file")
		fs.Usage()
		return exitUsage
	}
	ids, err := backup.Identities(e.getenv)
	if err != nil {
		fmt.Fprintf(e.stderr, "ferry verify: %v\n", err)
		return exitUsage
	}
	rep, err := backup.Verify(pos[0], ids...)
	if rep == nil {
		fmt.Fprintf(e.stderr, "ferry verify: %v\n", err)
		return exitAborted
	}
	if *restoreTo != "" && err == nil {
		if rep.Catalog == "none" {
			fmt.Fprintf(e.stderr, "ferry verify: %s: no catalog in this backup: the roles its users reference are compared\n", pos[0])
		}
		rr, err := rehearseRestore(ctx, e, pos[0], *restoreTo)
		if err != nil {
			return fail(e, "verify", err)
		}
		return printRestore(e, pos[0], rr, *asJSON)
	}
	if *asJSON {
		// Embedded by value: segmentio mis-handles an embedded pointer (checkptr fault).
		out := struct {
			backup.Report
			OK bool `json:"ok"`
		}{*rep, err == nil}
		b, _ := json.Marshal(out)
		fmt.Fprintln(e.stdout, string(b))
	}
	if err != nil {
		for _, p := range rep.Problems {
			fmt.Fprintf(e.stderr, "ferry verify: %s: %s\n", pos[0], p)
		}
		return exitAborted
	}
	if !*asJSON {
		fmt.Fprintf(e.stdout, "%s: OK: %d users, %d bytes, sha256 %s (from %s, %s)\n", pos[0], rep.Users, rep.Bytes, rep.SHA256, rep.Manifest.Source, rep.Manifest.Created.Format("2006-01-02 15:04:05Z07:00"))
		switch rep.Catalog {
		case "none":
			fmt.Fprintf(e.stdout, "%s: no catalog in this backup (a restore checks the roles its users reference)\n", pos[0])
		case "checked":
			fmt.Fprintf(e.stdout, "%s: catalog OK: %d roles, %d scopes\n", pos[0], rep.Roles, rep.Scopes)
		case "checksum":
			fmt.Fprintf(e.stdout, "%s: catalog checksum OK (encrypted: set %s to check its content)\n", pos[0], backup.IdentityEnv)
		}
	}
	return exitOK
}
