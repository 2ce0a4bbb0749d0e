package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/transform"
)

// sliceSource yields fixed records.
type sliceSource struct {
	format string
	recs   [][]byte
}

func (s *sliceSource) Name() string   { return "test" }
func (s *sliceSource) Format() string { return s.format }
func (s *sliceSource) Users(ctx context.Context, emit func(core.Record) error) error {
	for i, r := range s.recs {
		if err := emit(core.Record{Data: r, Ref: fmt.Sprintf("record %d", i), Cursor: fmt.Sprint(i)}); err != nil {
			return err
		}
	}
	return nil
}

// migrate runs the real pipeline from records of format into sink.
func migrate(t testing.TB, format string, recs [][]byte, sink core.Sink, conc int) (pipeline.Summary, []string) {
	t.Helper()
	dec, err := transform.DecoderFor(format)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := transform.EncoderFor(sink.Format())
	if err != nil {
		t.Fatal(err)
	}
	var rej bytes.Buffer
	log := pipeline.NewLog(&rej)
	s, err := pipeline.Run(context.Background(), pipeline.Config{
		Source: &sliceSource{format: format, recs: recs}, Sink: sink, Work: &transform.Work{Decoder: dec, Encoder: enc},
		Concurrency: conc, Workers: 2, Rejects: log,
	})
	if err != nil {
		t.Fatalf("pipeline: %v (summary %+v)", err, s)
	}
	var reasons []string
	for _, line := range bytes.Split(bytes.TrimSpace(rej.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(line, &r)
		reasons = append(reasons, r.Reason)
	}
	return s, reasons
}

// recorder wraps a handler and records what clients sent.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	// per "METHOD /last-path-segment-kind"
	calls     map[string]int
	status    map[int]int
	bulkOps   []int
	bulkBytes []int
	ifMatch   int
	puts      int
	// rewrite, when set, may change a response body (lower-case, add attributes, ...).
	rewrite func(r *http.Request, status int, body []byte) []byte
	// intercept, when set and returning true, has answered the request itself.
	intercept func(w http.ResponseWriter, r *http.Request, body []byte) bool
	// check, when set, sees every request first (a client conformance check).
	check func(r *http.Request, body []byte)
}

func newRecorder(next http.Handler) *recorder {
	return &recorder{next: next, calls: map[string]int{}, status: map[int]int{}}
}

func kind(path string) string {
	switch {
	case strings.HasSuffix(path, "/Bulk"):
		return "Bulk"
	case strings.HasSuffix(path, "/Users"):
		return "Users"
	case strings.Contains(path, "/Users/"):
		return "Users/{id}"
	}
	i := strings.LastIndexByte(path, '/')
	return path[i+1:]
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	k := r.Method + " " + kind(r.URL.Path)
	rc.mu.Lock()
	rc.calls[k]++
	if k == "POST Bulk" {
		var br struct {
			Operations []json.RawMessage `json:"Operations"`
		}
		_ = json.Unmarshal(body, &br)
		rc.bulkOps = append(rc.bulkOps, len(br.Operations))
		rc.bulkBytes = append(rc.bulkBytes, len(body))
	}
	if r.Method == http.MethodPut {
		rc.puts++
		if r.Header.Get("If-Match") != "" {
			rc.ifMatch++
		}
	}
	rc.mu.Unlock()
	if rc.check != nil {
		rc.check(r, body)
	}
	if rc.intercept != nil && rc.intercept(w, r, body) {
		return
	}
	rw := &captureWriter{header: http.Header{}}
	rc.next.ServeHTTP(rw, r)
	out := rw.body.Bytes()
	if rc.rewrite != nil {
		out = rc.rewrite(r, rw.status, out)
	}
	for k, v := range rw.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	st := rw.status
	if st == 0 {
		st = http.StatusOK
	}
	rc.mu.Lock()
	rc.status[st]++
	rc.mu.Unlock()
	w.WriteHeader(st)
	_, _ = w.Write(out)
}

func (rc *recorder) count(k string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls[k]
}

type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}
func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}
