// Package scimmy starts interop/server.js (SCIMMY and scimmy-routers, an open-source SCIM
// 2.0 library this project did not write, over in-memory stores) for tests.
package scimmy

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Dir is interop/, where server.js and its node_modules live.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// Start runs the server on a loopback port until the test ends and returns its base URL
// (http://127.0.0.1:PORT/scim/v2). Outside CI the test is skipped when node or the
// package's modules are missing; in CI (CI=true) it fails instead: CI must run it.
func Start(t testing.TB, token string, extraEnv ...string) string {
	t.Helper()
	dir := Dir()
	node, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "scimmy"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("interop SCIM server unavailable (node: %v, modules: %v); run npm ci in interop/", nodeErr, modErr)
		}
		t.Fatalf("interop SCIM server unavailable in CI (node: %v, modules: %v)", nodeErr, modErr)
	}
	cmd := exec.Command(node, filepath.Join(dir, "server.js"), "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"SCIM_TOKEN=" + token}, extraEnv...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case u := <-ready:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("interop SCIM server did not print READY within 30 s")
	}
	return ""
}
