package auth0

import (
	"math"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/segmentio/encoding/json"
)

const (
	jobExport = "users_export"
	jobImport = "users_import"
)

// maxActiveImports is how many import jobs a tenant may have pending or processing.
const maxActiveImports = 2

type exportField struct {
	Name     string `json:"name"`
	ExportAs string `json:"export_as,omitempty"`
}

type importSummary struct {
	Failed   int `json:"failed"`
	Updated  int `json:"updated"`
	Inserted int `json:"inserted"`
	Total    int `json:"total"`
}

type jobErrorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
}

type jobUserErrors struct {
	User   json.RawMessage `json:"user"`
	Errors []jobErrorItem  `json:"errors"`
}

// job is an export or import job. Its progress is a function of the clock: created, then
// pending for a quarter of the delay, processing until due, completed from due on.
type job struct {
	id, typ      string
	created, due time.Time
	connID, conn string

	// export
	format   string
	limit    int
	fields   []exportField
	snapshot []*user
	buildMu  sync.Mutex
	content  []byte // gzip, built on first download

	// import
	upsert     bool
	externalID string
	sendEmail  bool
	items      []json.RawMessage
	applied    bool
	summary    importSummary
	errs       []jobUserErrors
}

type jobs struct {
	mu    sync.Mutex
	byID  map[string]*job
	order []*job
}

func newJobs() *jobs { return &jobs{byID: map[string]*job{}} }

// tick completes the import jobs that are due, in creation order, and forgets jobs older
// than the retention period. Every API request calls it first, so the tenant's state is a
// function of the clock, not of background goroutines.
func (js *jobs) tick(s *Server) {
	now := s.clock.Now()
	js.mu.Lock()
	defer js.mu.Unlock()
	keep := js.order[:0]
	for _, j := range js.order {
		if j.typ == jobImport && !j.applied && !now.Before(j.due) {
			s.applyImport(j, now)
			j.applied = true
			j.items = nil
		}
		if now.Sub(j.due) > s.cfg.JobRetention {
			delete(js.byID, j.id)
			continue
		}
		keep = append(keep, j)
	}
	clear(js.order[len(keep):])
	js.order = keep
}

func (js *jobs) add(j *job) {
	js.byID[j.id] = j
	js.order = append(js.order, j)
}

func (js *jobs) get(id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.byID[id]
}

func (js *jobs) activeImports(now time.Time) int {
	n := 0
	for _, j := range js.order {
		if j.typ == jobImport && now.Before(j.due) {
			n++
		}
	}
	return n
}

func (j *job) status(now time.Time) (status string, pct int, left int) {
	if !now.Before(j.due) {
		return "completed", 100, 0
	}
	total := j.due.Sub(j.created)
	elapsed := now.Sub(j.created)
	left = int(math.Ceil(j.due.Sub(now).Seconds()))
	if elapsed < total/4 {
		return "pending", 0, left
	}
	return "processing", int(elapsed * 100 / total), left
}

// view is the job as GET /api/v2/jobs/{id} returns it.
func (s *Server) jobView(j *job, r *http.Request, now time.Time) map[string]any {
	status, pct, left := j.status(now)
	v := map[string]any{
		"id": j.id, "type": j.typ, "status": status, "created_at": formatTime(j.created),
	}
	if j.connID != "" { // an export of the whole tenant names no connection
		v["connection_id"], v["connection"] = j.connID, j.conn
	}
	if status == "processing" {
		v["percentage_done"] = pct
		v["time_left_seconds"] = left
	}
	switch j.typ {
	case jobExport:
		v["format"] = j.format
		if j.limit > 0 {
			v["limit"] = j.limit
		}
		if len(j.fields) > 0 {
			v["fields"] = j.fields
		}
		if status == "completed" && r != nil {
			v["location"] = s.exportLocation(j, r, now)
		}
	case jobImport:
		if j.externalID != "" {
			v["external_id"] = j.externalID
		}
		if status == "completed" {
			v["summary"] = j.summary
		}
	}
	return v
}

func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	j := s.jobs.get(r.PathValue("id"))
	if j == nil {
		writeError(w, http.StatusNotFound, "inexistent_job", msgJobMissing)
		return
	}
	s.jobs.mu.Lock()
	v := s.jobView(j, r, s.clock.Now())
	s.jobs.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// handleJobErrors serves GET /api/v2/jobs/{id}/errors: the failed users of a completed
// import, or 204 when there are none. An unfinished job answers with the job itself.
func (s *Server) handleJobErrors(w http.ResponseWriter, r *http.Request) {
	j := s.jobs.get(r.PathValue("id"))
	if j == nil {
		writeError(w, http.StatusNotFound, "inexistent_job", msgJobMissing)
		return
	}
	now := s.clock.Now()
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	if j.typ != jobImport || !j.applied {
		writeJSON(w, http.StatusOK, s.jobView(j, r, now))
		return
	}
	if len(j.errs) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, j.errs)
}

func (s *Server) connByID(id string) *connection {
	for k := range s.conns {
		if s.conns[k].ID == id {
			return &s.conns[k]
		}
	}
	return nil
}

// connIDPattern is the schema of connection_id in the job endpoints' bodies
// (POST /api/v2/jobs/users-imports and users-exports: "Pattern: ^con_[A-Za-z0-9]{16}$" in
// the Management API reference). A malformed id is a payload validation error, not a
// missing connection; auth0/docs issue #1327 quotes the real 400 body.
var connIDPattern = regexp.MustCompile(`^con_[A-Za-z0-9]{16}$`)

// badConnID answers 400 and reports true if id does not match connIDPattern.
func badConnID(w http.ResponseWriter, id string) bool {
	if connIDPattern.MatchString(id) {
		return false
	}
	badBody(w, "Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}$' on property connection_id")
	return true
}
