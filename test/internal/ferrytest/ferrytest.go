// Package ferrytest drives the ferry binary as a user does: built once per test package,
// run as a subprocess with its own environment, killed with SIGKILL when a test says so.
// The tests under test/ judge ferry by what it does from outside (exit status, output,
// files, what reached a tenant), so they share nothing with its internals but this.
package ferrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Build compiles cmd/ferry into dir and returns the binary's path. It is built without
// -race even when the tests run with it: the binary is the thing under test, and the race
// detector's 5-10x slowdown would only stretch the crash tests.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "ferry")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/ferry-dev/ferry/cmd/ferry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ferry: %v\n%s", err, out)
	}
	return bin, nil
}

// Main is a TestMain body: it builds the binary into a temporary directory, stores its
// path in *bin, runs the tests and cleans up.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "ferrytest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	*bin, err = Build(dir)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Result is what one run of the binary left behind.
type Result struct {
	Code   int // exit status; -1 when killed by a signal
	Killed bool
	// Signalled says Cmd.Signal was sent.
	Signalled bool
	TimedOut  bool
	Stdout    string
	Stderr    string
	MaxRSSKB  int64 // peak resident set size of the child, from getrusage
	Elapsed   time.Duration
}

// Cmd is one invocation.
type Cmd struct {
	Bin  string
	Args []string
	Env  map[string]string // added to a minimal environment (PATH, HOME, TMPDIR only)
	Dir  string
	// Stdin, when set, is fed to the child.
	Stdin []byte
	// Timeout kills the child (SIGKILL) when it runs longer; 0 means 2 minutes.
	Timeout time.Duration
	// KillAfter, when > 0, kills the child with SIGKILL after this long (a crash).
	KillAfter time.Duration
	// KillWhen, when set, is polled every 20 ms; the child is killed when it returns true.
	KillWhen func() bool
	// Signal, when set, is what KillAfter and KillWhen send instead of SIGKILL (SIGINT,
	// SIGTERM: a graceful stop); the child then exits on its own.
	Signal os.Signal
}

// stop kills the child, or sends it sig when one is given.
func stop(cmd *exec.Cmd, sig os.Signal, res *Result) {
	if sig != nil {
		res.Signalled = true
		_ = cmd.Process.Signal(sig)
		return
	}
	res.Killed = true
	_ = cmd.Process.Kill()
}

// Environ is a minimal environment: no credentials of the machine running the tests leak
// into the child, and only what the test sets reaches it.
func Environ(extra map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// Run runs c to completion (or to its kill) and reports what happened.
func Run(c Cmd) (Result, error) {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	cmd := exec.Command(c.Bin, c.Args...)
	cmd.Env = Environ(c.Env)
	cmd.Dir = c.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var res Result
	timeout := time.NewTimer(c.Timeout)
	defer timeout.Stop()
	var kill <-chan time.Time
	if c.KillAfter > 0 {
		t := time.NewTimer(c.KillAfter)
		defer t.Stop()
		kill = t.C
	}
	var poll <-chan time.Time
	if c.KillWhen != nil {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		poll = tk.C
	}
	var werr error
wait:
	for {
		select {
		case werr = <-exited:
			break wait
		case <-kill:
			stop(cmd, c.Signal, &res)
			kill = nil
		case <-poll:
			if c.KillWhen() {
				stop(cmd, c.Signal, &res)
				poll = nil
			}
		case <-timeout.C:
			// SIGQUIT first: a Go child prints every goroutine's stack, which says where
			// it hung; SIGKILL a moment later whatever it does.
			res.TimedOut = true
			_ = cmd.Process.Signal(quitSignal)
			t := time.AfterFunc(2*time.Second, func() { _ = cmd.Process.Kill() })
			defer t.Stop()
		}
	}
	res.Elapsed = time.Since(start)
	res.Stdout, res.Stderr = out.String(), errb.String()
	res.Code = cmd.ProcessState.ExitCode()
	res.MaxRSSKB = maxRSSKB(cmd.ProcessState)
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return res, werr
	}
	if res.Killed && res.Code >= 0 {
		// The child exited on its own in the instant before the kill landed.
		res.Killed = false
	}
	return res, nil
}

// MustRun is Run that fails the test on a harness error (not on a non-zero exit).
func MustRun(t testing.TB, c Cmd) Result {
	t.Helper()
	res, err := Run(c)
	if err != nil {
		t.Fatalf("ferry %s: %v", strings.Join(c.Args, " "), err)
	}
	if res.TimedOut {
		t.Fatalf("ferry %s: still running after %v (killed)\nstderr:\n%s", strings.Join(c.Args, " "), c.Timeout, Tail(res.Stderr, 12000))
	}
	return res
}

// Tail returns the last n bytes of s, for failure messages.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// Serve serves h on a loopback port until the test ends and returns its base URL.
func Serve(t testing.TB, h http.Handler) string { return ServeOn(t, "127.0.0.1:0", h) }

// ServeOn is Serve on a given loopback address (127.0.0.2:0 is another host to a client).
func ServeOn(t testing.TB, addr string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	})
	return "http://" + ln.Addr().String()
}
