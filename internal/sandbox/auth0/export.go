package auth0

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// defaultExportFields is the predefined set an export without "fields" contains. It is the
// profile minus what Auth0 keeps out of exports (password hashes, MFA secrets) and minus
// "multifactor": ask for a field by name to get it.
var defaultExportFields = []string{
	"user_id", "email", "email_verified", "username", "phone_number", "phone_verified",
	"name", "given_name", "family_name", "nickname", "picture", "created_at", "updated_at",
	"last_login", "last_ip", "logins_count", "blocked", "identities", "app_metadata", "user_metadata",
}

// csvDefaultFields: CSV cannot hold whole objects, so its default set is scalar.
var csvDefaultFields = []string{
	"user_id", "email", "email_verified", "username", "name", "given_name", "family_name",
	"nickname", "picture", "created_at", "updated_at", "last_login", "logins_count", "blocked",
}

// secretFields never leave the tenant, whatever an export asks for.
var secretFields = map[string]bool{"password_hash": true, "custom_password_hash": true, "mfa_factors": true}

const maxExportFields = 30

func (s *Server) handleCreateExport(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ConnectionID string        `json:"connection_id"`
		Format       string        `json:"format"`
		Limit        *int          `json:"limit"`
		Fields       []exportField `json:"fields"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Format == "" {
		body.Format = "json"
	}
	if body.Format != "json" && body.Format != "csv" {
		badBody(w, "Payload validation error: 'No enum match for: \""+body.Format+"\"' on property format (Format of the file. Must be json or csv.).")
		return
	}
	limit := 0
	if body.Limit != nil {
		if *body.Limit < 1 {
			badBody(w, "Payload validation error: 'Value "+strconv.Itoa(*body.Limit)+" is less than minimum 1' on property limit.")
			return
		}
		limit = *body.Limit
	}
	if len(body.Fields) > maxExportFields {
		badBody(w, "Payload validation error: 'Array is too long ("+strconv.Itoa(len(body.Fields))+"), maximum 30' on property fields.")
		return
	}
	for _, f := range body.Fields {
		if f.Name == "" {
			badBody(w, "Payload validation error: 'Missing required property: name' on property fields.")
			return
		}
		if body.Format == "csv" && (f.Name == "app_metadata" || f.Name == "user_metadata" || f.Name == "identities") {
			badBody(w, "You cannot export the whole "+f.Name+" in CSV format: name each field to export.")
			return
		}
	}
	j := &job{typ: jobExport, format: body.Format, limit: limit, fields: body.Fields}
	if body.ConnectionID != "" {
		if badConnID(w, body.ConnectionID) {
			return
		}
		c := s.connByID(body.ConnectionID)
		if c == nil {
			writeError(w, http.StatusNotFound, "inexistent_connection", "The connection does not exist.")
			return
		}
		j.connID, j.conn = c.ID, c.Name
	}
	// The export is a snapshot of the tenant as the job starts.
	for _, u := range s.store.snapshot() {
		if j.conn != "" && u.connection != j.conn {
			continue
		}
		j.snapshot = append(j.snapshot, u)
		if limit > 0 && len(j.snapshot) == limit {
			break
		}
	}
	now := s.clock.Now()
	j.id, j.created, j.due = s.randomID("job_", 16), now, now.Add(s.cfg.ExportDelay)
	s.jobs.mu.Lock()
	s.jobs.add(j)
	v := s.jobView(j, nil, now)
	s.jobs.mu.Unlock()
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) exportFileName(j *job) string {
	return strings.ReplaceAll(s.cfg.Domain, "/", "_") + "." + j.format + ".gz"
}

// exportLocation signs a download URL for the job's file, valid ExportURLTTL from now: the
// shape of a pre-signed object-store URL (Expires, Signature).
func (s *Server) exportLocation(j *job, r *http.Request, now time.Time) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	exp := strconv.FormatInt(now.Add(s.cfg.ExportURLTTL).Unix(), 10)
	q := url.Values{"Expires": {exp}, "Signature": {s.sign(j.id + "\n" + exp)}}
	return scheme + "://" + r.Host + "/user-exports/" + j.id + "/" + url.PathEscape(s.exportFileName(j)) + "?" + q.Encode()
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + code + "</Code><Message>" + msg + "</Message></Error>"))
}

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	s.jobs.tick(s)
	q := r.URL.Query()
	exp, sig := q.Get("Expires"), q.Get("Signature")
	j := s.jobs.get(r.PathValue("job"))
	if exp == "" || sig == "" {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Query-string authentication requires the Signature and Expires parameters")
		return
	}
	if j == nil || j.typ != jobExport || r.PathValue("file") != s.exportFileName(j) {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	if subtle.ConstantTimeCompare([]byte(sig), []byte(s.sign(j.id+"\n"+exp))) != 1 {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.clock.Now().Unix() > e {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	content, err := j.build()
	if err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", "export failed")
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	_, _ = w.Write(content)
}

// build renders the export file once: gzipped NDJSON (json) or CSV.
func (j *job) build() ([]byte, error) {
	j.buildMu.Lock()
	defer j.buildMu.Unlock()
	if j.content != nil {
		return j.content, nil
	}
	fields := j.fields
	if len(fields) == 0 {
		names := defaultExportFields
		if j.format == "csv" {
			names = csvDefaultFields
		}
		for _, n := range names {
			fields = append(fields, exportField{Name: n})
		}
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	var err error
	if j.format == "csv" {
		err = writeCSV(zw, j.snapshot, fields)
	} else {
		err = writeNDJSON(zw, j.snapshot, fields)
	}
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	j.content = out.Bytes()
	return j.content, nil
}

func writeNDJSON(w *gzip.Writer, users []*user, fields []exportField) error {
	line := make([]byte, 0, 4096)
	for _, u := range users {
		line = append(line[:0], '{')
		n := 0
		p := decodeProfile(u.raw)
		for _, f := range fields {
			if secretFields[f.Name] {
				continue
			}
			v, ok := p.lookup(f.Name)
			if !ok {
				continue
			}
			if n > 0 {
				line = append(line, ',')
			}
			key := f.Name
			if f.ExportAs != "" {
				key = f.ExportAs
			}
			kb, _ := marshal(key)
			line = append(line, kb...)
			line = append(line, ':')
			line = append(line, v...)
			n++
		}
		line = append(line, '}', '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

func writeCSV(w *gzip.Writer, users []*user, fields []exportField) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(fields))
	for k, f := range fields {
		header[k] = f.Name
		if f.ExportAs != "" {
			header[k] = f.ExportAs
		}
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	row := make([]string, len(fields))
	for _, u := range users {
		p := decodeProfile(u.raw)
		for k, f := range fields {
			row[k] = ""
			if secretFields[f.Name] {
				continue
			}
			v, ok := p.lookup(f.Name)
			if !ok {
				continue
			}
			var s string
			if json.Unmarshal(v, &s) == nil {
				row[k] = s
			} else {
				row[k] = string(v)
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// profile is a stored profile with its top level decoded once: an export line looks up
// to 30 fields in it, and decoding the whole profile for each was most of an export's CPU
// time.
type profile struct {
	raw json.RawMessage
	top map[string]json.RawMessage // nil when raw is not an object
}

func decodeProfile(raw []byte) profile {
	p := profile{raw: raw}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		p.top = m
	}
	return p
}

// lookup returns the raw JSON at a field path such as "user_metadata.country" or
// "identities[0].connection", keeping the value's bytes exactly as stored.
func (p profile) lookup(path string) (json.RawMessage, bool) {
	first, rest, nested := strings.Cut(path, ".")
	name, idx, ok := splitPart(first)
	if !ok {
		return nil, false
	}
	if name == "" || p.top == nil {
		return walk(p.raw, path)
	}
	cur, ok := p.top[name]
	if !ok {
		return nil, false
	}
	if cur, ok = index(cur, idx); !ok {
		return nil, false
	}
	if !nested {
		return cur, true
	}
	return walk(cur, rest)
}

// lookupRaw is lookup on a profile decoded for one use.
func lookupRaw(raw []byte, path string) (json.RawMessage, bool) {
	return walk(raw, path)
}

// walk follows path from cur, decoding each level it passes through.
func walk(cur json.RawMessage, path string) (json.RawMessage, bool) {
	for _, part := range strings.Split(path, ".") {
		name, idx, ok := splitPart(part)
		if !ok {
			return nil, false
		}
		if name != "" {
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return nil, false
			}
			v, ok := m[name]
			if !ok {
				return nil, false
			}
			cur = v
		}
		if cur, ok = index(cur, idx); !ok {
			return nil, false
		}
	}
	return cur, true
}

// splitPart splits "identities[0][1]" into its name and indexes.
func splitPart(part string) (name string, idx []int, ok bool) {
	name = part
	k := strings.IndexByte(part, '[')
	if k < 0 {
		return name, nil, true
	}
	name = part[:k]
	rest := part[k:]
	for rest != "" {
		end := strings.IndexByte(rest, ']')
		if rest[0] != '[' || end < 0 {
			return "", nil, false
		}
		n, err := strconv.Atoi(rest[1:end])
		if err != nil || n < 0 {
			return "", nil, false
		}
		idx = append(idx, n)
		rest = rest[end+1:]
	}
	return name, idx, true
}

// index follows array indexes from cur.
func index(cur json.RawMessage, idx []int) (json.RawMessage, bool) {
	for _, n := range idx {
		var a []json.RawMessage
		if json.Unmarshal(cur, &a) != nil || n >= len(a) {
			return nil, false
		}
		cur = a[n]
	}
	return cur, true
}
