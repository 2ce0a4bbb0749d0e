package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// backoffSleep waits a little longer after each failed round (100 ms, 200 ms, ... 2 s).
func backoffSleep(ctx context.Context, n int) error {
	return httpx.Sleep(ctx, min(time.Duration(n)*100*time.Millisecond, 2*time.Second))
}

// settleExisting looks the users up by userName; those found are compared and, when they
// differ, replaced. It returns the users not found, which are to be created.
//
// Why look up first rather than create and wait for a 409: not every provider enforces
// userName uniqueness with a 409 (some create a second user), and this is what the
// provisioning clients providers are tested against do (Entra, Okta). Several names go in
// one request (`userName eq "a" or userName eq "b"`), so a fresh run pays one GET per
// twenty users, not one per user.
func (w *scimWrite) settleExisting(ctx context.Context, ops []*scimOp) ([]*scimOp, error) {
	found, err := w.s.lookup(ctx, ops)
	if err != nil {
		if fatal(ctx, err) {
			return nil, err
		}
		// The lookup itself failed past retries: create, and let a 409 route users back here.
		return ops, nil
	}
	var missing, existing []*scimOp
	for _, op := range ops {
		if found[strings.ToLower(op.userName)] != nil {
			existing = append(existing, op)
		} else {
			missing = append(missing, op)
		}
	}
	err = w.each(ctx, existing, func(ctx context.Context, op *scimOp) error {
		return w.replace(ctx, op, found[strings.ToLower(op.userName)], core.Updated)
	})
	return missing, err
}

// lookup finds the users with the ops' userNames; the map is keyed by lower-cased userName.
func (s *SCIM) lookup(ctx context.Context, ops []*scimOp) (map[string]map[string]any, error) {
	out := make(map[string]map[string]any, len(ops))
	chunk := scimLookupChunk
	if s.orOff.Load() {
		chunk = 1
	}
	for i := 0; i < len(ops); {
		n := min(chunk, len(ops)-i)
		names := make([]string, n)
		for j := range names {
			names[j] = ops[i+j].userName
		}
		users, err := s.find(ctx, names)
		if errors.Is(err, errFilterRefused) && n > 1 {
			s.orOff.Store(true)
			chunk = 1
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			name, _ := u["userName"].(string)
			out[strings.ToLower(name)] = u
		}
		i += n
	}
	return out, nil
}

var errFilterRefused = errors.New("filter refused")

// find GETs /Users?filter=userName eq "a" or ... and returns the resources.
func (s *SCIM) find(ctx context.Context, names []string) ([]map[string]any, error) {
	var f strings.Builder
	for i, n := range names {
		if i > 0 {
			f.WriteString(" or ")
		}
		f.WriteString(`userName eq "`)
		f.WriteString(filterEscape(n))
		f.WriteByte('"')
	}
	q := url.Values{"filter": {f.String()}, "count": {strconv.Itoa(max(2*len(names), 10))}}
	resp, err := s.c.Do(ctx, &httpx.Request{Path: "Users", Query: q, AllowStatus: []int{400, 403, 501}})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		reason, _ := scimError(resp.Status, resp.Body, s.c.Redact)
		if resp.Status == http.StatusForbidden {
			return nil, fmt.Errorf("scim: user lookup: %s: %w", reason, httpx.ErrForbidden)
		}
		return nil, fmt.Errorf("scim: user lookup: %s: %w", reason, errFilterRefused)
	}
	var list struct {
		Resources []map[string]any `json:"Resources"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return nil, fmt.Errorf("scim: user lookup: the answer is not a ListResponse: %v", err)
	}
	return list.Resources, nil
}

// filterEscape quotes a value inside a filter's JSON string (RFC 7644 §3.4.2.2).
func filterEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// create writes users that are not in the target: by /Bulk when the provider takes it,
// else one POST each, concurrently.
func (w *scimWrite) create(ctx context.Context, ops []*scimOp) error {
	for round := 0; len(ops) > 0; round++ {
		if round > 0 {
			if err := w.s.sleep(ctx, round); err != nil {
				return err
			}
		}
		var retry []*scimOp
		var err error
		if w.s.bulk() {
			retry, err = w.bulkAll(ctx, ops)
		} else {
			retry, err = w.postAll(ctx, ops)
		}
		if err != nil {
			return err
		}
		if round+1 >= scimRecoverRounds {
			for _, op := range retry {
				w.reject(op, "not written: the provider kept failing (%d attempts); it does not hold this user", scimRecoverRounds)
			}
			return nil
		}
		ops = retry
	}
	return nil
}

// bulkAll sends ops in bulk requests within the provider's limits and returns the users
// whose outcome is unknown and who are not in the target: to be sent again.
func (w *scimWrite) bulkAll(ctx context.Context, ops []*scimOp) ([]*scimOp, error) {
	var retry []*scimOp
	maxOps, maxBytes := w.s.bulkOps(), w.s.sp.Bulk.MaxPayloadSize
	for len(ops) > 0 {
		n, size := 0, scimBulkEnvelope
		for n < len(ops) && n < maxOps {
			add := len(ops[n].body) + scimBulkOpOverhead
			if n > 0 && maxBytes > 0 && size+add > maxBytes {
				break
			}
			size += add
			n++
		}
		r, err := w.bulk(ctx, ops[:n])
		if err != nil {
			return nil, err
		}
		retry = append(retry, r...)
		ops = ops[n:]
	}
	return retry, nil
}

// bulkBody renders a BulkRequest. bulkIds are the ops' batch indices, so a response maps
// back without trusting its order.
func bulkBody(ops []*scimOp) []byte {
	b := make([]byte, 0, scimBulkEnvelope+len(ops)*(scimBulkOpOverhead+512))
	b = append(b, `{"schemas":["`+scimBulkRequestURN+`"],"Operations":[`...)
	for i, op := range ops {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"method":"POST","bulkId":"u`...)
		b = strconv.AppendInt(b, int64(op.idx), 10)
		b = append(b, `","path":"/Users","data":`...)
		b = append(b, op.body...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// bulkResponse is a BulkResponse; status may be "201", 201 or {"code":201} (SCIM 1.1).
type bulkResponse struct {
	Operations []struct {
		BulkID   string          `json:"bulkId"`
		Location string          `json:"location"`
		Version  string          `json:"version"`
		Status   json.RawMessage `json:"status"`
		Response json.RawMessage `json:"response"`
	} `json:"Operations"`
}

func bulkStatus(raw json.RawMessage) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		return n
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var o struct {
		Code json.RawMessage `json:"code"`
	}
	if json.Unmarshal(raw, &o) == nil && len(o.Code) > 0 {
		return bulkStatus(o.Code)
	}
	return 0
}

func (w *scimWrite) bulk(ctx context.Context, ops []*scimOp) ([]*scimOp, error) {
	s := w.s
	resp, err := s.c.Do(ctx, &httpx.Request{Method: http.MethodPost, Path: "Bulk", Body: bulkBody(ops),
		AllowStatus: []int{400, 404, 405, 409, 413, 422, 501}})
	if err != nil {
		if fatal(ctx, err) {
			return nil, err
		}
		// 5xx or a connection lost after sending: some operations may have run.
		return w.recoverOps(ctx, ops, err)
	}
	switch {
	case resp.Status == http.StatusRequestEntityTooLarge:
		if len(ops) == 1 {
			return w.postAll(ctx, ops) // /Users may take what /Bulk does not
		}
		h := len(ops) / 2
		a, err := w.bulk(ctx, ops[:h])
		if err != nil {
			return nil, err
		}
		b, err := w.bulk(ctx, ops[h:])
		return append(a, b...), err
	case resp.Status == http.StatusNotFound || resp.Status == http.StatusMethodNotAllowed || resp.Status == http.StatusNotImplemented:
		s.bulkOff.Store(true)
		return w.postAll(ctx, ops)
	case resp.Status >= 400:
		// The provider refused the request as a whole (one bad operation fails some
		// servers' bulk parsing): one POST each gives each user its own answer.
		return w.postAll(ctx, ops)
	}
	var br bulkResponse
	if err := json.Unmarshal(resp.Body, &br); err != nil {
		return w.recoverOps(ctx, ops, fmt.Errorf("bulk response is not valid JSON: %v", err))
	}
	byID := make(map[string]*scimOp, len(ops))
	for _, op := range ops {
		byID["u"+strconv.Itoa(op.idx)] = op
	}
	var conflicts, unknown []*scimOp
	for _, r := range br.Operations {
		op := byID[r.BulkID]
		if op == nil {
			continue
		}
		delete(byID, r.BulkID)
		st := bulkStatus(r.Status)
		switch {
		case st >= 200 && st < 300:
			w.set(op, core.Result{Outcome: core.Created, TargetID: idFromLocation(r.Location)})
		case st == http.StatusConflict:
			conflicts = append(conflicts, op)
			w.noteConflict(op, st, r.Response)
		case st >= 500 || st == 0 || st == http.StatusTooManyRequests:
			unknown = append(unknown, op)
		default:
			reason, _ := scimError(st, r.Response, s.c.Redact)
			w.reject(op, "%s", reason)
		}
	}
	for _, op := range ops { // operations the response left out
		if byID["u"+strconv.Itoa(op.idx)] != nil {
			unknown = append(unknown, op)
		}
	}
	if err := w.each(ctx, conflicts, w.conflict); err != nil {
		return nil, err
	}
	if len(unknown) == 0 {
		return nil, nil
	}
	return w.recoverOps(ctx, unknown, errors.New("the bulk response gave no final status"))
}

// postAll POSTs each user to /Users, conc at once, and returns those to send again.
func (w *scimWrite) postAll(ctx context.Context, ops []*scimOp) ([]*scimOp, error) {
	var unknown []*scimOp
	var mu = &w.mu
	err := w.each(ctx, ops, func(ctx context.Context, op *scimOp) error {
		retry, err := w.post(ctx, op)
		if retry {
			mu.Lock()
			unknown = append(unknown, op)
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(unknown) == 0 {
		return nil, nil
	}
	return w.recoverOps(ctx, unknown, errors.New("create failed"))
}

// post creates one user; retry reports an outcome to be settled by a lookup.
func (w *scimWrite) post(ctx context.Context, op *scimOp) (retry bool, err error) {
	s := w.s
	resp, err := s.c.Do(ctx, &httpx.Request{Method: http.MethodPost, Path: "Users", Body: op.body,
		AllowStatus: []int{400, 404, 409, 413, 422}})
	if err != nil {
		if fatal(ctx, err) {
			return false, err
		}
		return true, nil
	}
	switch {
	case resp.Status == http.StatusConflict:
		w.noteConflict(op, resp.Status, resp.Body)
		return false, w.conflict(ctx, op)
	case resp.Status >= 400:
		reason, _ := scimError(resp.Status, resp.Body, s.c.Redact)
		w.reject(op, "%s", reason)
		return false, nil
	}
	var got map[string]any
	_ = json.Unmarshal(resp.Body, &got)
	id, _ := got["id"].(string)
	if id == "" {
		id = idFromLocation(resp.Header.Get("Location"))
	}
	w.set(op, core.Result{Outcome: core.Created, TargetID: id, Lost: w.learn(op, got)})
	return false, nil
}

// noteConflict records a 409 as the rejection, in case the upsert path cannot do better.
func (w *scimWrite) noteConflict(op *scimOp, status int, body []byte) {
	reason, _ := scimError(status, body, w.s.c.Redact)
	w.reject(op, "exists in target (409 uniqueness): %s", reason)
	if !w.s.upsert {
		w.mu.Lock()
		w.res[op.idx].Exists = true // for Verify: it may be this very user
		w.mu.Unlock()
	}
}

// conflict handles a 409 on create: a rejection without --upsert; with it, the existing
// user is looked up and replaced when it differs.
func (w *scimWrite) conflict(ctx context.Context, op *scimOp) error {
	if !w.s.upsert {
		return nil // the rejection noteConflict recorded stands
	}
	found, err := w.s.lookup(ctx, []*scimOp{op})
	if err != nil {
		if fatal(ctx, err) {
			return err
		}
		w.mu.Lock()
		w.res[op.idx].Reason += "; looking it up failed: " + w.s.c.Redact(err.Error())
		w.mu.Unlock()
		return nil
	}
	cur := found[strings.ToLower(op.userName)]
	if cur == nil {
		// Uniqueness on another attribute (externalId, an email), or a provider whose
		// filter compares userName case-sensitively: nothing ferry may overwrite safely.
		w.mu.Lock()
		w.res[op.idx].Reason += fmt.Sprintf("; no user with userName %q found to update", op.userName)
		w.mu.Unlock()
		return nil
	}
	return w.replace(ctx, op, cur, core.Updated)
}

// recoverOps settles users whose create may or may not have happened: those now in the
// target are settled against what is there, the others are returned to be sent again.
func (w *scimWrite) recoverOps(ctx context.Context, ops []*scimOp, cause error) ([]*scimOp, error) {
	found, err := w.s.lookup(ctx, ops)
	if err != nil {
		if fatal(ctx, err) {
			return nil, err
		}
		for _, op := range ops {
			w.reject(op, "outcome unknown: %v; looking the user up failed too: %v (check the target before re-running)", cause, err)
		}
		return nil, nil
	}
	var again, there []*scimOp
	for _, op := range ops {
		if found[strings.ToLower(op.userName)] != nil {
			there = append(there, op)
		} else {
			again = append(again, op)
		}
	}
	err = w.each(ctx, there, func(ctx context.Context, op *scimOp) error {
		// Most likely the request created it before failing: the same data means ours.
		return w.replace(ctx, op, found[strings.ToLower(op.userName)], core.Created)
	})
	return again, err
}

// replace settles op against the user cur found in the target: unchanged when it holds
// the same data; otherwise, with --upsert, a PUT (If-Match its version when the provider
// supports ETags; a stale version is re-read and tried once more). same is the outcome
// when cur already matches and the user was written by this run (a recovered create).
func (w *scimWrite) replace(ctx context.Context, op *scimOp, cur map[string]any, same core.Outcome) error {
	s := w.s
	want, err := op.wanted()
	if err != nil {
		w.reject(op, "encoded user is not valid JSON: %v", err)
		return nil
	}
	for attempt := 0; ; attempt++ {
		id, _ := cur["id"].(string)
		if id == "" {
			w.reject(op, "exists in target, but the provider's answer has no id")
			return nil
		}
		if s.same(want, cur) {
			if same == core.Updated {
				same = core.Unchanged
			}
			w.set(op, core.Result{Outcome: same, TargetID: id})
			return nil
		}
		if !s.upsert {
			w.reject(op, "exists in target with different data (found after a failed create); not overwritten without --upsert")
			return nil
		}
		body := make(map[string]any, len(want)+1)
		for k, v := range want {
			body[k] = v
		}
		body["id"] = id
		b, err := json.Marshal(body)
		if err != nil {
			w.reject(op, "encode: %v", err)
			return nil
		}
		req := &httpx.Request{Method: http.MethodPut, Path: "Users/" + url.PathEscape(id), Body: b,
			AllowStatus: []int{400, 404, 409, 412, 413, 422}}
		if v := version(cur); v != "" && s.sp.Etag.Supported {
			req.Header = http.Header{"If-Match": {v}}
		}
		resp, err := s.c.Do(ctx, req)
		if err != nil {
			if fatal(ctx, err) {
				return err
			}
			w.reject(op, "update failed: %v", err)
			return nil
		}
		switch {
		case resp.Status == http.StatusPreconditionFailed && attempt == 0:
			// Changed since we read it: read again and decide again.
			var fresh map[string]any
			if _, err := s.c.DoJSON(ctx, &httpx.Request{Path: "Users/" + url.PathEscape(id)}, nil, &fresh); err != nil {
				if fatal(ctx, err) {
					return err
				}
				w.reject(op, "update refused (412 stale version) and re-reading failed: %v", err)
				return nil
			}
			cur = fresh
			continue
		case resp.Status == http.StatusPreconditionFailed:
			w.reject(op, "update refused twice: the user keeps changing in the target (412)")
			return nil
		case resp.Status >= 400:
			reason, _ := scimError(resp.Status, resp.Body, s.c.Redact)
			w.reject(op, "update refused: %s", reason)
			return nil
		}
		var got map[string]any
		_ = json.Unmarshal(resp.Body, &got)
		lost := w.learn(op, got)
		out := core.Updated
		if same == core.Created {
			out = core.Created
		}
		w.set(op, core.Result{Outcome: out, TargetID: id, Lost: lost})
		return nil
	}
}

func version(u map[string]any) string {
	m, _ := u["meta"].(map[string]any)
	v, _ := m["version"].(string)
	return v
}
