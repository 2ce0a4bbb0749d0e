package pipeline

import (
	"bufio"
	"encoding/base64"
	"io"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/ferry-dev/ferry/internal/redact"
	"github.com/segmentio/encoding/json"
)

// Log writes NDJSON: rejected records (--rejects) or changes (--changes). Only the
// committer goroutine writes to it.
type Log struct {
	w   *bufio.Writer
	buf []byte // one line, reused: the committer is the only writer
	// done holds the refs of records a run before a resume already rejected: records
	// replayed after the checkpoint are not listed twice.
	done map[string]bool
}

// NewLog writes NDJSON to w.
func NewLog(w io.Writer) *Log { return &Log{w: bufio.NewWriterSize(w, 64<<10)} }

// Flush writes out what is buffered.
func (l *Log) Flush() error { return l.w.Flush() }

// maxRejectRecord bounds how much of an unreadable record the rejects file keeps: the
// record stays in the source; the prefix is there to recognise it.
const maxRejectRecord = 4 << 10

// rejectLine is one line of the rejects file. Exactly one of Record, RecordText and
// RecordBase64 holds the original: JSON as is (secrets redacted), other text as a string,
// bytes that are not UTF-8 as base64.
type rejectLine struct {
	Ref          string          `json:"ref"`
	User         string          `json:"user,omitempty"`
	Stage        string          `json:"stage"`
	Reason       string          `json:"reason"`
	Record       json.RawMessage `json:"record,omitempty"`
	RecordText   string          `json:"record_text,omitempty"`
	RecordBase64 string          `json:"record_base64,omitempty"`
	Truncated    bool            `json:"record_truncated,omitempty"`
}

// SkipRefs makes Reject pass over records whose ref is in refs (read back from the rejects
// file a resumed run appends to).
func (l *Log) SkipRefs(refs map[string]bool) { l.done = refs }

// ReadRejectRefs returns the refs named in a rejects file (nil when it does not exist).
func ReadRejectRefs(r io.Reader) (map[string]bool, error) {
	refs := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var line struct {
			Ref string `json:"ref"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Ref != "" {
			refs[line.Ref] = true
		}
	}
	return refs, sc.Err()
}

// Reject writes one rejected record with its reason.
func (l *Log) Reject(e *entry) error {
	if l.done[e.rec.Ref] {
		return nil
	}
	line := rejectLine{Ref: e.rec.Ref, Stage: e.stage, Reason: e.reason}
	if e.item.User != nil {
		line.User = e.item.User.Ref()
	}
	raw := e.rec.Data
	// Invalid UTF-8 must not reach the rejects file verbatim: it would stop being valid
	// NDJSON. Such records are kept as base64 below.
	// Too deep for a decoder to take in reasonable time: kept as text, like non-JSON.
	var red []byte
	ok := utf8.Valid(raw) && !jsonstream.TooDeep(raw, jsonstream.MaxDepth)
	if ok {
		red, ok = redact.JSON(raw)
	}
	if ok {
		line.Record = red
	} else {
		// Not JSON: it cannot hold a parsed secret, but keep only a prefix of it.
		if len(raw) > maxRejectRecord {
			raw, line.Truncated = raw[:maxRejectRecord], true
		}
		if utf8.Valid(raw) {
			line.RecordText = string(raw)
		} else {
			line.RecordBase64 = base64.StdEncoding.EncodeToString(raw)
		}
	}
	return l.write(&line, 0)
}

// Change writes one change. Its Before and After are trusted to be valid JSON: they come
// from json.Marshal (transform.Changes.Add) or from a parsed metadata value re-serialized.
func (l *Log) Change(c *core.Change) error { return l.write(c, json.TrustRawMessage) }

// write appends v as one line with json.Marshal's flags (the same bytes), plus extra.
func (l *Log) write(v any, extra json.AppendFlags) error {
	b, err := json.Append(l.buf[:0], v, json.EscapeHTML|json.SortMapKeys|extra)
	if cap(b) <= 1<<20 {
		l.buf = b[:0]
	}
	if err != nil {
		return err
	}
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return nil
}
