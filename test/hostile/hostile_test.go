// Package hostile feeds ferry inputs built to hurt it, through the command line as a user
// would: each must end in a clear error or rejection naming where the problem is, within a
// memory cap (the child's peak RSS, from getrusage) and a time cap, and never in a panic.
package hostile

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/test/internal/ferrytest"
)

var bin string

func TestMain(m *testing.M) { ferrytest.Main(m, &bin) }

// maxRSSKB is the memory cap for every case: ferry streams, so no input may make it hold
// much more than one record (16 MiB at most) and its buffers.
const maxRSSKB = 256 << 10

const scimCore = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`

func user(name string) string { return `{` + scimCore + `,"userName":"` + name + `"}` }

type hostileCase struct {
	name  string
	file  func(t *testing.T, path string) // writes the input
	ext   string
	codes []int
	// want must match stdout+stderr+rejects file: the error or rejection naming the
	// problem (and where, when there is a where).
	want string
	// written is the number of users the output must hold (-1: not checked).
	written int
	timeout time.Duration
	// bug, when set, is a known defect in someone else's package: the case is skipped
	// with this text unless FERRY_BUGS=1 (then it runs, and fails until fixed).
	bug string
}

func skipBug(t *testing.T, bug string) {
	t.Helper()
	if bug != "" && os.Getenv("FERRY_BUGS") == "" {
		t.Skip("BUG: " + bug)
	}
}

func writeFile(s string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth)
}

func hostileFiles() []hostileCase {
	return []hostileCase{
		{name: "gzip bomb", ext: ".ndjson.gz", codes: []int{3}, want: `(?i)gzip bomb|decompressed size`, written: -1,
			file: func(t *testing.T, path string) {
				// 400 gzip members of 1 MiB of blank lines each (a reader takes them as one
				// stream): 400 MiB inflated from ~400 KiB, compressed once.
				var head, member bytes.Buffer
				zw := gzip.NewWriter(&head)
				zw.Write([]byte(user("before.bomb@example.com") + "\n"))
				zw.Close()
				zw, _ = gzip.NewWriterLevel(&member, gzip.BestCompression)
				zw.Write(bytes.Repeat([]byte("\n"), 1<<20))
				zw.Close()
				out := append([]byte(nil), head.Bytes()...)
				for range 400 {
					out = append(out, member.Bytes()...)
				}
				if err := os.WriteFile(path, out, 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "truncated gzip", ext: ".ndjson.gz", codes: []int{3}, want: `(?i)unexpected EOF|truncated|corrupt`, written: -1,
			file: func(t *testing.T, path string) {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				for i := range 2000 {
					fmt.Fprintf(zw, "%s\n", user(fmt.Sprintf("u%d@example.com", i)))
				}
				zw.Close()
				os.WriteFile(path, b.Bytes()[:b.Len()/2], 0o600)
			}},
		{name: "nesting 50 levels", ext: ".ndjson", codes: []int{0, 1}, want: `.`, written: -1,
			file: writeFile(`{` + scimCore + `,"userName":"deep50@example.com","urn:ferry:params:scim:schemas:extension:ferry:1.0:User":{"appMetadata":` + nested(50) + `}}` + "\n" + user("ok@example.com") + "\n")},
		{name: "nesting 100,000 levels", ext: ".ndjson", codes: []int{1}, want: `(?i)line 1.*(nest|deep|depth)|(nest|deep|depth).*line 1`, written: 1,
			file: writeFile(`{` + scimCore + `,"userName":"deep@example.com","displayName":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}\n" + user("ok@example.com") + "\n")},
		{name: "nesting 100,000 levels in an array file", ext: ".json", codes: []int{1}, want: `(?i)(nest|deep|depth|element 1)`, written: 1,
			file: writeFile(`[` + `{` + scimCore + `,"userName":"deep@example.com","x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}," + user("ok@example.com") + "]\n")},
		{name: "100 MB string", ext: ".ndjson", codes: []int{1}, want: `(?i)line 1.*(too large|exceeds|limit)|(too large|exceeds|limit).*line 1`, written: 1,
			file: func(t *testing.T, path string) {
				f, _ := os.Create(path)
				fmt.Fprintf(f, `{%s,"userName":"huge@example.com","displayName":"`, scimCore)
				chunk := bytes.Repeat([]byte("A"), 1<<20)
				for range 100 {
					f.Write(chunk)
				}
				fmt.Fprintf(f, "\"}\n%s\n", user("ok@example.com"))
				f.Close()
			}},
		{name: "duplicate keys", ext: ".ndjson", codes: []int{1}, want: `(?i)line 1.*duplicate|duplicate.*line 1`, written: 1,
			file: writeFile(`{` + scimCore + `,"userName":"a@example.com","userName":"b@example.com"}` + "\n" + user("ok@example.com") + "\n")},
		{name: "invalid UTF-8", ext: ".ndjson", codes: []int{1}, want: `(?i)line 1.*utf-?8|utf-?8.*line 1`, written: 1,
			file: writeFile(`{` + scimCore + `,"userName":"bad` + "\xff\xfe" + `@example.com"}` + "\n" + user("ok@example.com") + "\n")},
		{name: "BOM", ext: ".ndjson", codes: []int{0}, want: `.`, written: 2,
			file: writeFile("\xEF\xBB\xBF" + user("bom@example.com") + "\n" + user("ok@example.com") + "\n")},
		{name: "BOM in an array file", ext: ".json", codes: []int{0}, want: `.`, written: 2,
			file: writeFile("\xEF\xBB\xBF[" + user("bom@example.com") + "," + user("ok@example.com") + "]")},
		{name: "NUL bytes and garbage", ext: ".ndjson", codes: []int{1}, want: `(?i)line 1`, written: 1,
			file: writeFile("\x00\x00\x00garbage\x00\n" + user("ok@example.com") + "\n")},
		{name: "a huge number", ext: ".ndjson", codes: []int{0, 1}, want: `.`, written: -1,
			file: writeFile(`{` + scimCore + `,"userName":"num@example.com","urn:ferry:params:scim:schemas:extension:ferry:1.0:User":{"appMetadata":{"n":1` + strings.Repeat("0", 100000) + `}}}` + "\n")},
	}
}

// summary is the --json output.
type summary struct {
	Read, Written, Rejected int64
}

func check(t *testing.T, res ferrytest.Result, codes []int, want string, extra string) {
	t.Helper()
	ok := false
	for _, c := range codes {
		ok = ok || res.Code == c
	}
	all := res.Stdout + res.Stderr + extra
	if !ok {
		t.Errorf("exit %d, want one of %v\nstdout: %s\nstderr: %s", res.Code, codes, ferrytest.Tail(res.Stdout, 1000), ferrytest.Tail(res.Stderr, 1000))
	}
	if strings.Contains(res.Stderr, "panic:") || strings.Contains(res.Stderr, "goroutine ") {
		t.Errorf("ferry panicked:\n%s", ferrytest.Tail(res.Stderr, 3000))
	}
	if !regexp.MustCompile(want).MatchString(all) {
		t.Errorf("no message matching %s\nstdout: %s\nstderr: %s\nrejects: %s", want, ferrytest.Tail(res.Stdout, 1000), ferrytest.Tail(res.Stderr, 1000), ferrytest.Tail(extra, 1000))
	}
	if res.MaxRSSKB > maxRSSKB {
		t.Errorf("peak RSS %d MiB, cap %d MiB", res.MaxRSSKB>>10, maxRSSKB>>10)
	}
	t.Logf("exit %d in %v, peak RSS %d MiB", res.Code, res.Elapsed.Round(time.Millisecond), res.MaxRSSKB>>10)
}

func TestHostileFiles(t *testing.T) {
	for _, tc := range hostileFiles() {
		t.Run(tc.name, func(t *testing.T) {
			skipBug(t, tc.bug)
			dir := t.TempDir()
			in := filepath.Join(dir, "input"+tc.ext)
			tc.file(t, in)
			out := filepath.Join(dir, "out.ndjson")
			rejects := filepath.Join(dir, "rejects.ndjson")
			if tc.timeout == 0 {
				tc.timeout = time.Minute
			}
			res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Timeout: tc.timeout,
				Args: []string{"migrate", "--from", in, "--to", out, "--rejects", rejects, "--json", "--no-progress"}})
			rj, _ := os.ReadFile(rejects)
			if len(rj) > 64<<10 {
				rj = rj[:64<<10]
			}
			check(t, res, tc.codes, tc.want, string(rj))
			if tc.written >= 0 && (res.Code == 0 || res.Code == 1) {
				b, _ := os.ReadFile(out)
				if n := bytes.Count(b, []byte("\n")); n != tc.written {
					t.Errorf("output holds %d users, want %d", n, tc.written)
				}
			}
		})
	}
}

// TestHostileServers points ferry at servers that misbehave on purpose.
func TestHostileServers(t *testing.T) {
	t.Run("SCIM source streams forever", func(t *testing.T) {

		url := ferrytest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/scim+json")
			if strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig") {
				w.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],"filter":{"supported":true,"maxResults":100}}`))
				return
			}
			w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{"userName":"`))
			chunk := bytes.Repeat([]byte("A"), 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}))
		res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Timeout: 2 * time.Minute, Env: map[string]string{"SCIM_TOKEN": "hostile-test-token-0123456789"},
			Args: []string{"migrate", "--from", "scim+" + url + "/scim/v2", "--to", filepath.Join(t.TempDir(), "out.ndjson"), "--json", "--no-progress"}})
		check(t, res, []int{3}, `(?i)too large|limit|exceed`, "")
	})
	t.Run("SCIM target streams forever", func(t *testing.T) {

		url := ferrytest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/scim+json")
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			w.Write([]byte("{"))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}))
		in := filepath.Join(t.TempDir(), "in.ndjson")
		os.WriteFile(in, []byte(user("a@example.com")+"\n"), 0o600)
		res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Timeout: 2 * time.Minute, Env: map[string]string{"SCIM_TOKEN": "hostile-test-token-0123456789"},
			Args: []string{"migrate", "--from", in, "--to", "scim+" + url + "/scim/v2", "--json", "--no-progress"}})
		check(t, res, []int{3}, `(?i)too large|limit|exceed`, "")
	})
	t.Run("SCIM source never answers", func(t *testing.T) {
		if os.Getenv("FERRY_LONG") == "" {
			t.Skip("waits for ferry's response-header timeout (60 s) and its retries; FERRY_LONG=1 runs it")
		}
		url := ferrytest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Timeout: 10 * time.Minute, Env: map[string]string{"SCIM_TOKEN": "hostile-test-token-0123456789"},
			Args: []string{"migrate", "--from", "scim+" + url + "/scim/v2", "--to", filepath.Join(t.TempDir(), "out.ndjson"), "--json", "--no-progress"}})
		check(t, res, []int{3}, `(?i)timeout|deadline`, "")
	})
	t.Run("Auth0 export location on another host", func(t *testing.T) {
		s, err := auth0.New(auth0.Config{Users: 1500, Seed: 2, ExportDelay: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		// Another loopback server, holding a plausible export (so only the host is wrong).
		var evilHits int
		evil := ferrytest.ServeOn(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			evilHits++
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write([]byte(`{"user_id":"auth0|evil","email":"evil@example.com"}` + "\n"))
			zw.Close()
			w.Write(b.Bytes())
		}))
		h := s.Handler()
		base := ferrytest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/api/v2/jobs/") {
				h.ServeHTTP(w, r)
				return
			}
			rec := &capture{header: http.Header{}}
			h.ServeHTTP(rec, r)
			body := regexp.MustCompile(`"location":"http://[^/"]+`).ReplaceAll(rec.body.Bytes(), []byte(`"location":"`+evil))
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.status)
			w.Write(body)
		}))
		c := s.Credentials()
		res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Timeout: time.Minute,
			Env:  map[string]string{"AUTH0_CLIENT_ID": c.ClientID, "AUTH0_CLIENT_SECRET": c.ClientSecret},
			Args: []string{"migrate", "--from", s.Endpoint(base), "--to", filepath.Join(t.TempDir(), "out.ndjson"), "--json", "--no-progress"}})
		check(t, res, []int{3}, `(?i)host|location`, "")
		if evilHits > 0 {
			t.Errorf("ferry fetched the export from the other host (%d requests)", evilHits)
		}
	})
}

// capture is a ResponseWriter that keeps the answer for rewriting.
type capture struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}
func (c *capture) WriteHeader(s int) { c.status = s }
