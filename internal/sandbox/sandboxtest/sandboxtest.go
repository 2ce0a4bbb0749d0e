// Package sandboxtest starts sandbox tenants for tests: stopped when the test ends.
package sandboxtest

import (
	"testing"

	"github.com/ferry-dev/ferry/internal/sandbox"
)

// Start runs the tenant spec describes until t ends; a tenant that cannot start ends t.
func Start(t testing.TB, spec sandbox.Spec) *sandbox.Running {
	t.Helper()
	r, err := sandbox.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
