package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/ferry-dev/ferry/internal/sandbox/sandboxtest"
	"github.com/segmentio/encoding/json"
)

// TestRateCeiling runs `ferry migrate` against rate-limited sandboxes through a counting
// proxy and prints one line per run: users/s, requests/s, the limit's ceiling and how
// close the run came to it, and the 429s seen (after a warm-up of warmup). It measures,
// it does not judge: bench/run.sh prints the lines into BENCHMARKS.md.
//
// BENCH_FERRY names the ferry binary (bench/run.sh builds it); without it the test skips,
// so `go test ./...` never spends a minute on it.
func TestRateCeiling(t *testing.T) {
	bin := os.Getenv("BENCH_FERRY")
	if bin == "" {
		t.Skip("BENCH_FERRY not set: bench/run.sh runs this")
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	dir := t.TempDir()

	// App ID: 50 requests/s (exceeding blocks the tenant for 30 s), users/export pages of
	// 50: the ceiling is 2,500 users/s.
	n := envInt("BENCH_RATE_USERS", 20000)
	t.Run("appid-to-file", func(t *testing.T) {
		r := sandboxtest.Start(t, sandbox.Spec{Provider: "appid", Users: n, Seed: 1})
		p := newCountingProxy(t, r.URL)
		res := runFerry(t, bin, []*sandbox.Running{r}, p, "--from", p.rewrite(r.Endpoint, r.URL), "--to", filepath.Join(dir, "appid.ndjson"))
		reportRate(t, "App ID sandbox (50 rps, 50 users/page) -> file", res, p, 50, 50)
	})

	// Auth0 enterprise: a global bucket of 50, 16 requests/s. Listing reads 100 users a
	// page but at most 1,000 users per query, so a listing never gets past the burst;
	// above that ferry uses an export job (one file, a handful of requests).
	t.Run("auth0-enterprise-to-file", func(t *testing.T) {
		r := sandboxtest.Start(t, sandbox.Spec{Provider: "auth0", Users: 1000, Seed: 1, Plan: "enterprise"})
		p := newCountingProxy(t, r.URL)
		res := runFerry(t, bin, []*sandbox.Running{r}, p, "--from", p.rewrite(r.Endpoint, r.URL), "--to", filepath.Join(dir, "auth0.ndjson"))
		reportRate(t, "Auth0 sandbox enterprise (16 rps, 100 users/page), 1,000 users -> file", res, p, 16, 100)
	})

	// Auth0 as the target: bulk-import jobs of at most 500 KB, at most 2 jobs at once per
	// tenant; --concurrency from 1 up shows where a limit binds.
	src := filepath.Join(dir, "auth0-src.ndjson")
	writeGen(t, src, "auth0", envInt("BENCH_RATE_IMPORT_USERS", 5000))
	for _, c := range []int{1, 2, 4, 8} {
		t.Run("file-to-auth0-enterprise-c"+strconv.Itoa(c), func(t *testing.T) {
			r := sandboxtest.Start(t, sandbox.Spec{Provider: "auth0", Plan: "enterprise", Empty: true})
			p := newCountingProxy(t, r.URL)
			res := runFerry(t, bin, []*sandbox.Running{r}, p, "--from", src, "--from-format", "auth0", "--to", p.rewrite(r.Endpoint, r.URL),
				"--concurrency", strconv.Itoa(c), "--create-missing-roles")
			reportRate(t, fmt.Sprintf("file -> Auth0 sandbox enterprise (16 rps; import jobs, 2 at once), --concurrency %d", c), res, p, 16, 0)
		})
	}

	// App ID as the target: imports of 50 users at 50 requests/s, so the request rate is
	// the limit (2,500 users/s). Each answer takes 50 ms here (a real import is slower
	// still), so one request at a time reaches 20 requests/s: --concurrency from 1 up
	// shows where the limit starts to bind.
	appSrc := filepath.Join(dir, "appid-src.ndjson")
	writeGen(t, appSrc, "appid", n)
	// A file has no role catalog: the plan lists the roles its users hold, so that
	// --create-missing-roles makes them and no user is refused for a missing role.
	plan := filepath.Join(dir, "appid-plan.json")
	if out, err := exec.Command(bin, "plan", "--from", appSrc, "--from-format", "appid", "--out", plan).CombinedOutput(); err != nil {
		t.Fatalf("ferry plan: %v\n%s", err, out)
	}
	for _, c := range []int{1, 2, 4, 8} {
		t.Run("file-to-appid-c"+strconv.Itoa(c), func(t *testing.T) {
			r := sandboxtest.Start(t, sandbox.Spec{Provider: "appid", Empty: true, Faults: "latency=50ms"})
			p := newCountingProxy(t, r.URL)
			res := runFerry(t, bin, []*sandbox.Running{r}, p, "--from", appSrc, "--from-format", "appid", "--to", p.rewrite(r.Endpoint, r.URL),
				"--concurrency", strconv.Itoa(c), "--create-missing-roles", "--plan", plan)
			reportRate(t, fmt.Sprintf("file -> App ID sandbox (50 rps, 50 users/import, 50 ms a request), --concurrency %d", c), res, p, 50, 50)
		})
	}

	// Sandbox to sandbox: Auth0 (enterprise; an export job above 1,000 users) to App ID,
	// the proxy on the App ID side, where the limit binds.
	t.Run("auth0-to-appid", func(t *testing.T) {
		from := sandboxtest.Start(t, sandbox.Spec{Provider: "auth0", Users: n, Seed: 1, Plan: "enterprise"})
		to := sandboxtest.Start(t, sandbox.Spec{Provider: "appid", Empty: true})
		p := newCountingProxy(t, to.URL)
		res := runFerry(t, bin, []*sandbox.Running{from, to}, p, "--from", from.Endpoint, "--to", p.rewrite(to.Endpoint, to.URL),
			"--concurrency", "4", "--create-missing-roles")
		reportRate(t, "Auth0 sandbox enterprise -> App ID sandbox (50 rps, 50 users/import), --concurrency 4", res, p, 50, 50)
	})
}

// warmup is the start of a run whose 429s are not held against it: clients learn a
// tenant's limit from its first answers.
const warmup = 2 * time.Second

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func writeGen(t *testing.T, path, provider string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	app, _ := gen.ForProvider(provider)
	if err := gen.WriteNDJSON(f, app, 7, n, gen.Options{}); err != nil {
		t.Fatal(err)
	}
}

// countingProxy forwards to a sandbox and records each answer's status and time.
type countingProxy struct {
	srv   *httptest.Server
	mu    sync.Mutex
	start time.Time
	times []time.Duration
	codes []int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{start: time.Now()}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		p.times = append(p.times, time.Since(p.start))
		p.codes = append(p.codes, resp.StatusCode)
		p.mu.Unlock()
		return nil
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(p.srv.Close)
	return p
}

// rewrite points an endpoint's ?base= (and App ID's ?iam=) at the proxy.
func (p *countingProxy) rewrite(endpoint, target string) string {
	return strings.ReplaceAll(endpoint, url.QueryEscape(target), url.QueryEscape(p.srv.URL))
}

type ferryResult struct {
	Read     int64   `json:"read"`
	Written  int64   `json:"written"`
	Rejected int64   `json:"rejected"`
	Seconds  float64 `json:"seconds"`
	Status   int     `json:"exit_status"`
}

// runFerry runs migrate with the credentials of every tenant in envs.
func runFerry(t *testing.T, bin string, envs []*sandbox.Running, p *countingProxy, args ...string) ferryResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"migrate", "--no-progress", "--json"}, args...)...)
	cmd.Env = os.Environ()
	for _, r := range envs {
		for k, v := range r.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	p.mu.Lock()
	p.start, p.times, p.codes = time.Now(), nil, nil
	p.mu.Unlock()
	out, err := cmd.Output()
	var res ferryResult
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("ferry: %v %v\n%s\n%s", err, jerr, out, stderr.String())
	}
	if res.Status > 1 {
		t.Fatalf("ferry exit %d: %s", res.Status, stderr.String())
	}
	return res
}

// reportRate prints one result line. rps is the limit; perReq the users one request carries
// (0: not a fixed number, the ceiling is given in requests only).
func reportRate(t *testing.T, label string, res ferryResult, p *countingProxy, rps, perReq float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n429, late429, steady int
	var last time.Duration
	for i, c := range p.codes {
		if c == http.StatusTooManyRequests {
			n429++
			if p.times[i] > warmup {
				late429++
			}
		}
		if p.times[i] > warmup {
			steady++
		}
		last = max(last, p.times[i])
	}
	reqs := len(p.codes)
	ups := float64(res.Written+res.Rejected) / res.Seconds
	reqRate := float64(reqs) / last.Seconds()
	line := fmt.Sprintf("RATE | %s | %d (%d rejected) | %.1f | %.0f | %d, %.1f req/s = %.0f%% of %g rps |",
		label, res.Read, res.Rejected, res.Seconds, ups, reqs, reqRate, 100*reqRate/rps, rps)
	if perReq > 0 {
		ceiling := rps * perReq
		line += fmt.Sprintf(" %.0f users/s; reached %.0f%% |", ceiling, 100*ups/ceiling)
	} else {
		line += " - |"
	}
	line += fmt.Sprintf(" %d (%d after %s) |", n429, late429, warmup)
	// After the warm-up the burst is spent: this is the rate the limit allows, sustained.
	if last > warmup+time.Second {
		r := float64(steady) / (last - warmup).Seconds()
		line += fmt.Sprintf(" %.1f req/s = %.0f%% of the limit |", r, 100*r/rps)
	} else {
		line += " all within the warm-up (burst) |"
	}
	fmt.Println(line)
}
