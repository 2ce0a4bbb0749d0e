package auth0

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// handleCreateImport serves POST /api/v2/jobs/users-imports (multipart/form-data: users,
// connection_id, upsert, external_id, send_completion_email).
func (s *Server) handleCreateImport(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		badBody(w, "Payload validation error: the request must be multipart/form-data.")
		return
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, maxImportRequest), params["boundary"])
	var (
		file                          []byte
		haveFile                      bool
		connID, upsert, extID, notify string
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				tooLarge(w, maxImportFile)
			} else {
				badBody(w, "Payload validation error: malformed multipart body.")
			}
			return
		}
		name := part.FormName()
		limit := int64(4096)
		if name == "users" {
			limit = maxImportFile
		}
		b, err := io.ReadAll(io.LimitReader(part, limit+1))
		part.Close()
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				tooLarge(w, maxImportFile)
			} else {
				badBody(w, "Payload validation error: malformed multipart body.")
			}
			return
		}
		if int64(len(b)) > limit {
			if name == "users" {
				tooLarge(w, maxImportFile)
			} else {
				badBody(w, "Payload validation error: field "+strconv.Quote(name)+" is too long.")
			}
			return
		}
		switch name {
		case "users":
			file, haveFile = b, true
		case "connection_id":
			connID = string(b)
		case "upsert":
			upsert = string(b)
		case "external_id":
			extID = string(b)
		case "send_completion_email":
			notify = string(b)
		}
	}
	if !haveFile {
		badBody(w, "Payload validation error: 'Missing required property: users'.")
		return
	}
	if connID == "" {
		badBody(w, "Payload validation error: 'Missing required property: connection_id'.")
		return
	}
	j := &job{typ: jobImport, externalID: extID, sendEmail: true}
	for _, f := range []struct {
		name, v string
		dst     *bool
	}{{"upsert", upsert, &j.upsert}, {"send_completion_email", notify, &j.sendEmail}} {
		if f.v == "" {
			continue
		}
		b, err := strconv.ParseBool(f.v)
		if err != nil {
			badBody(w, "Payload validation error: 'Expected type boolean but found type string' on property "+f.name+".")
			return
		}
		*f.dst = b
	}
	if badConnID(w, connID) {
		return
	}
	c := s.connByID(connID)
	if c == nil {
		writeError(w, http.StatusNotFound, "inexistent_connection", "The connection does not exist.")
		return
	}
	if c.Strategy != "auth0" {
		badBody(w, "The connection must be a database connection (strategy auth0); "+strconv.Quote(c.Name)+" is "+c.Strategy+".")
		return
	}
	j.connID, j.conn = c.ID, c.Name
	if err := json.Unmarshal(file, &j.items); err != nil {
		badBody(w, "Users file must be a JSON array of user objects: "+err.Error())
		return
	}
	if j.items == nil {
		badBody(w, "Users file must be a JSON array of user objects.")
		return
	}
	now := s.clock.Now()
	s.jobs.mu.Lock()
	if n := s.jobs.activeImports(now); n >= maxActiveImports {
		s.jobs.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "too_many_requests",
			"There are already "+strconv.Itoa(n)+" pending or processing import jobs for this tenant. Wait until one completes before starting another.")
		return
	}
	j.id, j.created, j.due = s.randomID("job_", 16), now, now.Add(s.cfg.ImportDelay)
	s.jobs.add(j)
	v := s.jobView(j, nil, now)
	s.jobs.mu.Unlock()
	writeJSON(w, http.StatusAccepted, v)
}

// Upsert never touches these; everything else an item names replaces the stored value,
// app_metadata and user_metadata included (replaced whole, not merged).
var notUpsertable = map[string]bool{"email": true, "user_id": true}

// applyImport runs a due import job against the store. Callers hold jobs.mu.
func (s *Server) applyImport(j *job, now time.Time) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	seenEmail := map[string]bool{}
	seenID := map[string]bool{}
	seenUsername := map[string]bool{}
	sum := importSummary{Total: len(j.items)}
	fail := func(item []byte, errs ...jobErrorItem) {
		sum.Failed++
		j.errs = append(j.errs, jobUserErrors{User: json.RawMessage(item), Errors: errs})
	}
	for _, item := range j.items {
		if errs := validateImportUser(item); len(errs) > 0 {
			fail(item, errs...)
			continue
		}
		var in map[string]json.RawMessage
		_ = json.Unmarshal(item, &in) // validated: an object
		var email, localID, username string
		_ = json.Unmarshal(in["email"], &email)
		_ = json.Unmarshal(in["user_id"], &localID)
		_ = json.Unmarshal(in["username"], &username)
		email = strings.ToLower(email)
		// A user named twice in one file is an error, never an insert then an update.
		switch {
		case seenEmail[email]:
			fail(item, jobErrorItem{Code: "DUPLICATED_USER", Message: "A user with this email was already provided.", Path: "email"})
			continue
		case localID != "" && seenID[localID]:
			fail(item, jobErrorItem{Code: "DUPLICATED_USER", Message: "A user with this user_id was already provided.", Path: "user_id"})
			continue
		case username != "" && seenUsername[username]:
			fail(item, jobErrorItem{Code: "DUPLICATED_USER", Message: "A user with this username was already provided.", Path: "username"})
			continue
		}
		seenEmail[email] = true
		if localID != "" {
			seenID[localID] = true
		}
		if username != "" {
			seenUsername[username] = true
		}
		var existing *user
		for _, u := range s.store.byEmail[email] {
			if u.connection == j.conn {
				existing = u
			}
		}
		if existing != nil && !j.upsert {
			fail(item, jobErrorItem{Code: "DUPLICATED_USER", Message: "The user already exists.", Path: "email"})
			continue
		}
		id := "auth0|" + localID
		if existing == nil && localID != "" {
			if _, taken := s.store.byID[id]; taken {
				fail(item, jobErrorItem{Code: "DUPLICATED_USER", Message: "A user with this user_id already exists.", Path: "user_id"})
				continue
			}
		}
		if username != "" && s.usernameTakenLocked(j.conn, username, existing) {
			fail(item, jobErrorItem{Code: "CONFLICT_USERNAME", Message: "The username provided is in use already.", Path: "username"})
			continue
		}
		var u *user
		var err error
		if existing != nil {
			u, err = s.upsertedUser(existing, in, now)
			sum.Updated++
		} else {
			if localID == "" {
				localID = s.objectID(now)
				id = "auth0|" + localID
			}
			u, err = s.importedUser(id, localID, j.conn, in, now)
			sum.Inserted++
		}
		if err != nil { // our own encoding failed: report it on the user, never drop it
			fail(item, jobErrorItem{Code: "INTERNAL", Message: err.Error()})
			continue
		}
		s.store.putLocked(u)
	}
	s.store.resortLocked()
	j.summary = sum
}

func (s *Server) usernameTakenLocked(conn, username string, self *user) bool {
	id, ok := s.store.byUsername[conn+"\x00"+username]
	return ok && (self == nil || id != self.id)
}

// objectID returns a new 24-hex-digit id, like the ones Auth0 gives database users.
func (s *Server) objectID(now time.Time) string {
	h := strconv.FormatInt(now.Unix(), 16)
	for len(h) < 8 {
		h = "0" + h
	}
	return h[len(h)-8:] + s.randomHex(16)
}

// splitSecrets moves what must never be served out of a profile.
func splitSecrets(u *user, m map[string]json.RawMessage) {
	if v, ok := m["password_hash"]; ok {
		_ = json.Unmarshal(v, &u.passwordHash)
	}
	if v, ok := m["custom_password_hash"]; ok {
		u.passwordHash = string(v)
	}
	if v, ok := m["mfa_factors"]; ok {
		u.mfaFactors = v
	}
	for k := range secretFields {
		delete(m, k)
	}
}

func quote(s string) json.RawMessage { b, _ := marshal(s); return b }

func (s *Server) importedUser(id, localID, conn string, in map[string]json.RawMessage, now time.Time) (*user, error) {
	m := make(map[string]json.RawMessage, len(in)+8)
	for k, v := range in {
		if k != "user_id" {
			m[k] = v
		}
	}
	u := &user{}
	splitSecrets(u, m)
	var email string
	_ = json.Unmarshal(in["email"], &email)
	ts := quote(formatTime(now))
	m["created_at"], m["updated_at"] = ts, ts
	m["user_id"] = quote(id)
	m["identities"], _ = marshal([]map[string]any{{
		"connection": conn, "provider": "auth0", "user_id": localID, "isSocial": false,
	}})
	if _, ok := m["email_verified"]; !ok {
		m["email_verified"] = json.RawMessage("false")
	}
	if _, ok := m["name"]; !ok {
		m["name"] = quote(email)
	}
	if _, ok := m["nickname"]; !ok {
		local, _, _ := strings.Cut(email, "@")
		m["nickname"] = quote(local)
	}
	if _, ok := m["picture"]; !ok {
		m["picture"] = quote("https://s.gravatar.com/avatar/" + s.randomHex(32) + "?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fdefault.png")
	}
	return s.finishUser(u, m)
}

func (s *Server) upsertedUser(old *user, in map[string]json.RawMessage, now time.Time) (*user, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(old.raw, &m); err != nil {
		return nil, err
	}
	u := &user{passwordHash: old.passwordHash, mfaFactors: old.mfaFactors}
	for k, v := range in {
		if !notUpsertable[k] {
			m[k] = v
		}
	}
	splitSecrets(u, m)
	if u.passwordHash == "" {
		u.passwordHash = old.passwordHash
	}
	if u.mfaFactors == nil {
		u.mfaFactors = old.mfaFactors
	}
	m["updated_at"] = quote(formatTime(now))
	return s.finishUser(u, m)
}

func (s *Server) finishUser(u *user, m map[string]json.RawMessage) (*user, error) {
	raw, err := marshal(m) // keys sorted, as the API orders them
	if err != nil {
		return nil, err
	}
	nu, _, err := newUser(raw)
	if err != nil {
		return nil, err
	}
	nu.passwordHash, nu.mfaFactors = u.passwordHash, u.mfaFactors
	return nu, nil
}
