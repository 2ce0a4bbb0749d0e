package main

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/ferry-dev/ferry/internal/backup"
	"github.com/ferry-dev/ferry/internal/gen"
)

func init() {
	commands["gen"] = command{"write deterministic synthetic users in a provider's export format", cmdGen}
}

const genExamples = `  ferry gen --provider auth0 --users 100000 --seed 1 > auth0-users.ndjson
  ferry gen --provider appid --users 5000 --nasty 0.2 --out appid.ndjson
  ferry gen --provider scim --users 1000000 --out users.ndjson.gz`

func cmdGen(_ context.Context, e *env, args []string) int {
	fs := newFlags(e, "gen", "ferry gen --provider auth0|appid|scim --users N [--seed S] [--nasty F] [--out FILE]", genExamples)
	provider := fs.String("provider", "auth0", "export format: auth0, appid or scim")
	n := fs.Int("users", 1000, "number of users")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same users, byte for byte")
	nasty := fs.Float64("nasty", 0, "share (0..1) of awkward records: dotted and $ keys, reserved names, type clashes, long values, big profiles, card numbers")
	out := fs.String("out", "-", "output file (.gz compresses); - for stdout")
	if _, code, ok := parse(e, fs, args); !ok {
		return code
	}
	f, err := gen.ForProvider(*provider)
	if err != nil || *n < 0 || *nasty < 0 || *nasty > 1 {
		fmt.Fprintf(e.stderr, "ferry gen: %v\n", orUsage(err, "--users must be >= 0 and --nasty within 0..1"))
		return exitUsage
	}
	w, commit, abort, err := openOutput(e, *out)
	if err != nil {
		fmt.Fprintf(e.stderr, "ferry gen: %v\n", err)
		return exitAborted
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := gen.WriteNDJSON(bw, f, *seed, *n, gen.Options{Nasty: *nasty}); err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = commit()
	} else {
		abort()
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ferry gen: %v\n", err)
		return exitAborted
	}
	return exitOK
}

func orUsage(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}

// openOutput opens "-" (stdout) or a file written atomically, gzip by extension.
func openOutput(e *env, path string) (w io.Writer, commit, abort func() error, err error) {
	if path == "-" {
		return e.stdout, func() error { return nil }, func() error { return nil }, nil
	}
	bw, err := backup.CreateRaw(path)
	if err != nil {
		return nil, nil, nil, err
	}
	return bw, bw.Commit, bw.Abort, nil
}
