// Command ferry moves user profiles between identity tenants and backup files.
// It stays thin: it parses flags, opens a Source and a Sink, and runs the pipeline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
)

// Exit statuses (the command line contract).
const (
	exitOK       = 0 // all users written
	exitRejected = 1 // some users rejected
	exitUsage    = 2 // usage or configuration error
	exitAborted  = 3 // preflight failed, interrupted, fatal source/target error
)

// env is what a command may touch; tests substitute every part.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	stop           <-chan struct{} // closed on the first interrupt
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

var commands = map[string]command{}

func main() {
	ctx, stop, cancel := signals()
	defer cancel()
	os.Exit(dispatch(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, stop: stop}, os.Args[1:]))
}

func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "ferry: unknown command %q\n\n", args[0])
		usage(e.stderr)
		return exitUsage
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "ferry moves user profiles between identity tenants (Auth0, IBM Cloud App ID, SCIM 2.0) and backup files.")
	fmt.Fprintln(w, "\nUsage: ferry COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'ferry COMMAND --help' for a command's flags and examples.")
	fmt.Fprintln(w, "Exit status: 0 all written, 1 some users rejected, 2 usage or config error, 3 aborted.")
}

// newFlags builds a command's flag set with a usage text that ends in examples.
func newFlags(e *env, name, synopsis, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(examples, "\n"))
		}
	}
	return fs
}

// parse parses flags that may come before, between or after positional arguments.
// It returns the positional arguments, or an exit status when it should stop. Help that
// was asked for goes to stdout (to be paged); usage after a mistake goes to stderr.
func parse(e *env, fs *flag.FlagSet, args []string) ([]string, int, bool) {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return nil, exitOK, false
		}
		if a == "--" {
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// exitFor maps an error to the exit status of the contract.
func exitFor(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, core.ErrUsage):
		return exitUsage
	default:
		return exitAborted
	}
}
