package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/pipeline"
	sandbox "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
	"golang.org/x/time/rate"
)

// tenant is a sandbox Auth0 tenant behind a recorder that watches import jobs.
type tenant struct {
	sb  *sandbox.Server
	srv *httptest.Server
	rec *jobRecorder
}

// jobRecorder sees every request: import files (their sizes), job creations, job
// completions as clients observe them, and 429s on the job endpoint.
type jobRecorder struct {
	next http.Handler
	// wrap, when set, answers instead of next (tests that tamper with answers).
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler) bool

	mu          sync.Mutex
	active      map[string]bool // created, not yet seen completed
	maxActive   int
	created     int
	jobs429     int
	maxFile     int
	files       int
	upsertSeen  []string
	emailSeen   []string
	assignCalls int
	all429      int
}

func (j *jobRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if j.wrap != nil && j.wrap(w, r, j.next) {
		return
	}
	isCreate := r.Method == http.MethodPost && r.URL.Path == "/api/v2/jobs/users-imports"
	if isCreate {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		j.inspect(r.Header.Get("Content-Type"), body)
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/users") && strings.HasPrefix(r.URL.Path, "/api/v2/roles/") {
		j.mu.Lock()
		j.assignCalls++
		j.mu.Unlock()
	}
	rw := &capture{ResponseWriter: w}
	j.next.ServeHTTP(rw, r)
	j.mu.Lock()
	defer j.mu.Unlock()
	if rw.status == http.StatusTooManyRequests {
		j.all429++
	}
	switch {
	case isCreate && rw.status == http.StatusTooManyRequests:
		j.jobs429++
	case isCreate && rw.status == http.StatusAccepted:
		var v struct{ ID string }
		_ = json.Unmarshal(rw.body.Bytes(), &v)
		if j.active == nil {
			j.active = map[string]bool{}
		}
		j.active[v.ID] = true
		j.created++
		j.maxActive = max(j.maxActive, len(j.active))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v2/jobs/") && !strings.HasSuffix(r.URL.Path, "/errors"):
		var v struct{ ID, Status string }
		_ = json.Unmarshal(rw.body.Bytes(), &v)
		if v.Status == "completed" || v.Status == "failed" {
			delete(j.active, v.ID)
		}
	}
}

func (j *jobRecorder) inspect(ctype string, body []byte) {
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		p, err := mr.NextPart()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(p)
		switch p.FormName() {
		case "users":
			j.files++
			j.maxFile = max(j.maxFile, len(b))
		case "upsert":
			j.upsertSeen = append(j.upsertSeen, string(b))
		case "send_completion_email":
			j.emailSeen = append(j.emailSeen, string(b))
		}
	}
}

type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
	c.ResponseWriter.WriteHeader(s)
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}

// Hijack lets the fault injector drop connections through the recorder.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func newTenant(t testing.TB, cfg sandbox.Config, mw ...func(http.Handler) http.Handler) *tenant {
	t.Helper()
	if cfg.ImportDelay == 0 {
		cfg.ImportDelay = 30 * time.Millisecond
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &jobRecorder{next: sb.Handler()}
	var h http.Handler = rec
	for _, m := range mw {
		h = m(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &tenant{sb: sb, srv: srv, rec: rec}
}

// sinkCfg is a sink configuration for the tenant: fast polling, a private limiter.
func (tn *tenant) sinkCfg() Auth0Config {
	return Auth0Config{
		Domain: "sandbox", BaseURL: tn.srv.URL, Token: httpx.StaticToken(tn.sb.Token()),
		PollInitial: 5 * time.Millisecond, PollMax: 20 * time.Millisecond,
		Limiter: httpx.NewLimiter(rate.Inf, 1),
	}
}

func (tn *tenant) sink(t testing.TB, mod ...func(*Auth0Config)) *Auth0 {
	t.Helper()
	cfg := tn.sinkCfg()
	for _, m := range mod {
		m(&cfg)
	}
	s, err := NewAuth0(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mkUser is a plain database user with the given roles.
func mkUser(i int, roles ...string) *schemas.User {
	tr := true
	u := &schemas.User{
		UserName: fmt.Sprintf("user%05d@example.com", i),
		Emails:   []schemas.MultiValued{{Value: fmt.Sprintf("user%05d@example.com", i), Primary: true}},
		Name:     &schemas.Name{GivenName: "Given" + strconv.Itoa(i), FamilyName: "Family"},
		Ferry: &schemas.FerryUser{
			Provider: "auth0", SourceID: fmt.Sprintf("auth0|src%05d", i), EmailVerified: &tr,
			AppMetadata: json.RawMessage(`{"plan":"pro"}`),
		},
	}
	for _, r := range roles {
		u.Roles = append(u.Roles, schemas.MultiValued{Value: r})
	}
	u.EnsureSchemas()
	return u
}

func encodeItems(t testing.TB, users []*schemas.User) []core.Item {
	t.Helper()
	enc, err := transform.EncoderFor(core.FormatAuth0Import)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]core.Item, len(users))
	for i, u := range users {
		b, err := enc.Encode(nil, u)
		if err != nil {
			t.Fatalf("encode user %d: %v", i, err)
		}
		items[i] = core.Item{Seq: int64(i), Ref: "user " + strconv.Itoa(i), User: u, Data: b}
	}
	return items
}

// writeAll writes items in batches within the sink's limits, sequentially.
func writeAll(t testing.TB, s *Auth0, items []core.Item) []core.Result {
	t.Helper()
	lim := s.BatchLimits()
	var out []core.Result
	for start := 0; start < len(items); {
		end, size := start, 0
		for end < len(items) && end-start < lim.MaxCount && (end == start || size+len(items[end].Data) <= lim.MaxBytes) {
			size += len(items[end].Data)
			end++
		}
		res, err := s.Write(context.Background(), items[start:end])
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if len(res) != end-start {
			t.Fatalf("Write: %d results for %d items", len(res), end-start)
		}
		out = append(out, res...)
		start = end
	}
	return out
}

func countOutcomes(res []core.Result) map[core.Outcome]int {
	m := map[core.Outcome]int{}
	for _, r := range res {
		m[r.Outcome]++
	}
	return m
}

// roleMembers reads a role's members back from the tenant with checkpoint paging.
func roleMembers(t testing.TB, s *Auth0, roleName string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	id, err := s.api.roleID(ctx, roleName, true)
	if err != nil || id == "" {
		t.Fatalf("role %q: id %q, %v", roleName, id, err)
	}
	ids, err := s.api.Members(ctx, auth0Role{ID: id, Name: roleName})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, u := range ids {
		out[u] = true
	}
	return out
}

// runPipeline migrates users into sink with the given concurrency.
func runPipeline(t testing.TB, sink core.Sink, users []*schemas.User, conc int) pipeline.Summary {
	t.Helper()
	recs := make([][]byte, len(users))
	for i, u := range users {
		b, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = b
	}
	sum, _ := migrate(t, core.FormatSCIM, recs, sink, conc)
	return sum
}
