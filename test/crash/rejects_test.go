package crash

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/test/internal/ferrytest"
)

// TestResumeKeepsRejectsFile runs the same command twice, as the documentation says to
// after a failure: the first run stops when the target starts refusing the token (exit 3,
// checkpoint saved), the second resumes. The rejects file must then name every rejected
// record of the migration, not only those after the resume point.
func TestResumeKeepsRejectsFile(t *testing.T) {
	dir := t.TempDir()
	var src strings.Builder
	const n, every = 3000, 50
	want := 0
	for i := 1; i <= n; i++ {
		if i%every == 0 {
			fmt.Fprintf(&src, "{\"userName\": not json %d\n", i)
			want++
			continue
		}
		fmt.Fprintf(&src, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%05d@example.com"}`+"\n", i)
	}
	in := filepath.Join(dir, "users.ndjson")
	if err := os.WriteFile(in, []byte(src.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := scim.New(scim.Config{Token: scimToken, BasePath: "/scim/v2"})
	if err != nil {
		t.Fatal(err)
	}
	var bulks, limit atomic.Int64
	limit.Store(6)
	h := s.Handler()
	url := ferrytest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && bulks.Add(1) > limit.Load() {
			w.Header().Set("Content-Type", scim.MediaType)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"token revoked"}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	rejects := filepath.Join(dir, "rejects.ndjson")
	args := []string{"migrate", "--from", in, "--to", "scim+" + url + "/scim/v2?rps=2000", "--upsert",
		"--resume", filepath.Join(dir, "state.json"), "--rejects", rejects, "--json", "--no-progress", "--batch-size", "100"}
	env := map[string]string{"SCIM_TOKEN": scimToken}
	first := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Args: args, Env: env})
	if first.Code != 3 {
		t.Fatalf("first run: exit %d, want 3 (target refused the token)\n%s\n%s", first.Code, first.Stdout, ferrytest.Tail(first.Stderr, 2000))
	}
	cur := stateCursor(filepath.Join(dir, "state.json"))
	if cur == "" {
		t.Fatalf("first run saved no cursor; the test needs one to mean anything\n%s", first.Stdout)
	}
	limit.Store(1 << 40)
	second := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Args: args, Env: env})
	if second.Code != 1 {
		t.Fatalf("second run: exit %d, want 1 (some rejected)\n%s\n%s", second.Code, second.Stdout, ferrytest.Tail(second.Stderr, 2000))
	}
	if got := s.Len(); got != n-want {
		t.Errorf("target holds %d users, want %d", got, n-want)
	}
	got := readRejects(t, rejects)
	t.Logf("first run stopped at %s; rejects file names %d of %d rejected records", cur, len(got), want)
	if len(got) != want {
		t.Errorf("after a resume the rejects file names %d of the %d rejected records: a resumed run must append to --rejects", len(got), want)
	}
}
