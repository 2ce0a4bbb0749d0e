package load

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/appidapi"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/schemas"
)

func init() { Register("appid", openAppID) }

// AppID writes users to an IBM Cloud App ID instance (Management API v4): profiles through
// POST /users/import, Cloud Directory users through POST /cloud_directory/import with the
// encryption secret their password hashes were exported with.
//
// Each import answers {added, failed, failReasons:[{originalId, idp, error}]}: failures
// map back to users by originalId (the id each item carries; ferry gives every item of a
// request a distinct one), and a user is reported written only when the counts account
// for it, or when a lookup (GET /users?dataScope=index&email=) finds it after an answer
// that did not add up or a request whose outcome is unknown (5xx, dropped connection).
//
// App ID's import has no upsert. With --upsert a profile that already exists is looked up
// by email and its custom attributes (PUT /users/{id}/profile) and roles
// (PUT /users/{id}/roles) are brought in line; its name, email, picture and identities
// belong to the identity provider and cannot be changed through the management API, so
// they are left as they are. A Cloud Directory user that exists is updated through
// PUT /cloud_directory/Users/{id} and its profile as above (updateCD, appid_cd_verify.go).
type AppID struct {
	c      *httpx.Client
	target string
	cd     bool
	secret string
	upsert bool

	rolesMu sync.Mutex
	roleIDs map[string]string // role name -> id, for upsert

	// sleep waits between recovery rounds; tests replace it.
	sleep func(ctx context.Context, n int) error
}

var (
	_ core.Sink       = (*AppID)(nil)
	_ core.Batched    = (*AppID)(nil)
	_ core.RoleReader = (*AppID)(nil)
	_ core.RoleWriter = (*AppID)(nil)
	_ core.Keyed      = (*AppID)(nil)
)

// Limits. Cloud Directory import takes at most 50 users per request (App ID docs,
// cd-users.md "Migrating users"; the Management SDK's CloudDirectoryImportOptions). The
// profiles import has no documented cap; 50 is what one export page holds, the unit App
// ID's own migration guide imports. The management API allows 50 requests/s and blocks a
// client that exceeds it for 30 s (rate-limits.md), with no budget headers to follow: ferry
// paces at the limit with a small burst, which the server's own burst absorbs however the
// network bunches requests (the source side does the same). Pacing at 48/s left 6% of
// the budget unused (measured 94% of the ceiling) without a 429 to avoid.
const (
	appIDBatch     = 50
	appIDMaxBytes  = 4 << 20
	appIDRate      = 50
	appIDBurst     = 10
	appIDRounds    = 4
	appIDRegionURL = "https://%s.appid.cloud.ibm.com"
)

func openAppID(_ context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Sink, error) {
	return NewAppIDFromEndpoint(ep, opt)
}

// NewAppIDFromEndpoint builds the sink for appid://REGION/TENANT[?base=&iam=&cloud_directory=true].
func NewAppIDFromEndpoint(ep *endpoint.Endpoint, opt core.Options) (*AppID, error) {
	region, tenant := ep.Host, strings.Trim(ep.Path, "/")
	if region == "" || tenant == "" || strings.Contains(tenant, "/") {
		return nil, fmt.Errorf("appid: endpoint %s: want appid://REGION/TENANT_ID: %w", ep, core.ErrUsage)
	}
	cd := strings.EqualFold(ep.Query.Get("cloud_directory"), "true")
	switch opt.Format {
	case "", core.FormatAppID:
	case core.FormatAppIDCD:
		cd = true
	default:
		return nil, fmt.Errorf("appid: an App ID target takes appid or appid-cd records, not %s: %w", opt.Format, core.ErrUsage)
	}
	if opt.Getenv == nil {
		return nil, fmt.Errorf("appid: no environment to read IBMCLOUD_API_KEY from: %w", core.ErrUsage)
	}
	key := opt.Getenv("IBMCLOUD_API_KEY")
	if key == "" {
		return nil, fmt.Errorf("appid: IBMCLOUD_API_KEY is not set: %w", core.ErrUsage)
	}
	var secret string
	if cd {
		if secret = opt.Getenv("APPID_ENCRYPTION_SECRET"); secret == "" {
			return nil, fmt.Errorf("appid: Cloud Directory import needs APPID_ENCRYPTION_SECRET (the secret the users were exported with): %w", core.ErrUsage)
		}
	}
	base := strings.TrimRight(ep.Query.Get("base"), "/")
	if base == "" {
		base = fmt.Sprintf(appIDRegionURL, region)
	}
	iam := ep.Query.Get("iam")
	if iam == "" {
		iam = httpx.DefaultIAMURL
	} else if u, err := url.Parse(iam); err == nil && strings.Trim(u.Path, "/") == "" {
		iam = strings.TrimRight(iam, "/") + "/identity/token"
	}
	c, err := httpx.New(httpx.Config{
		Name:    "appid",
		BaseURL: base + "/management/v4/" + url.PathEscape(tenant),
		Token:   &httpx.IBMIAM{URL: iam, APIKey: key},
		Limiter: httpx.SharedLimiter("appid:"+region+"/"+tenant, appIDRate, appIDBurst),
		Secrets: []string{secret},
	})
	if err != nil {
		return nil, err
	}
	a := NewAppID(c, cd, secret, opt)
	a.target = ep.String()
	return a, nil
}

// NewAppID builds the sink on a client for the instance's management URL.
func NewAppID(c *httpx.Client, cloudDirectory bool, secret string, opt core.Options) *AppID {
	return &AppID{c: c, target: "appid", cd: cloudDirectory, secret: secret, upsert: opt.Upsert, sleep: backoffSleep}
}

// Name implements core.Sink.
func (a *AppID) Name() string { return a.c.Redact(a.target) }

// Format implements core.Sink.
func (a *AppID) Format() string {
	if a.cd {
		return core.FormatAppIDCD
	}
	return core.FormatAppID
}

// UserKey implements core.Keyed. Cloud Directory knows a user by e-mail, so two users with
// one e-mail are one user there. Other App ID profiles belong to an identity provider each
// and may share an e-mail: nothing to check.
func (a *AppID) UserKey(u *schemas.User) (string, string) {
	if !a.cd {
		return "", ""
	}
	return "email", u.PrimaryEmail()
}

// BatchLimits implements core.Batched.
func (a *AppID) BatchLimits() core.BatchLimits {
	return core.BatchLimits{MaxCount: appIDBatch, MaxBytes: appIDMaxBytes}
}

// Close implements core.Sink: imports are committed when Write returns.
func (a *AppID) Close(context.Context) error { return nil }

// appIDItem is one user of a Write: its import item and what identifies it.
type appIDItem struct {
	idx   int
	data  []byte
	key   string // the originalId App ID reports failures under
	email string
	idp   string // first identity's provider ("cloud_directory" for CD users)
	idpID string // first identity's id
	roles []string
	attrs json.RawMessage
}

// Write implements core.Sink.
func (a *AppID) Write(ctx context.Context, batch []core.Item) ([]core.Result, error) {
	res := make([]core.Result, len(batch))
	items := make([]*appIDItem, 0, len(batch))
	seen := map[string]bool{}
	for i := range batch {
		it, err := a.prepare(i, &batch[i], seen)
		if err != nil {
			res[i] = core.Result{Outcome: core.Rejected, Reason: err.Error()}
			continue
		}
		items = append(items, it)
	}
	w := &appIDWrite{a: a, res: res}
	for len(items) > 0 {
		n := min(appIDBatch, len(items))
		if err := w.importRounds(ctx, items[:n]); err != nil {
			return nil, err
		}
		items = items[n:]
	}
	for i, r := range res {
		if r.Outcome == 0 {
			return nil, fmt.Errorf("appid: internal error: no result for %s", batch[i].Ref)
		}
	}
	return res, nil
}

// prepare reads what identifies an item and makes sure it carries an originalId no other
// item of the batch has: the id ferry reads failures back by. A profile item's id is the
// source profile's id (App ID issues new ids on import), a Cloud Directory item's is
// scimUser.originalId; when it is missing or taken, the user's source id or its position
// is used instead.
func (a *AppID) prepare(i int, item *core.Item, seen map[string]bool) (*appIDItem, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(item.Data, &m); err != nil || m == nil {
		return nil, fmt.Errorf("encoded user is not a JSON object: %v", err)
	}
	it := &appIDItem{idx: i, data: item.Data}
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	_ = json.Unmarshal(m["roles"], &it.roles)
	var scimUser map[string]json.RawMessage
	if a.cd {
		if err := json.Unmarshal(m["scimUser"], &scimUser); err != nil || scimUser == nil {
			return nil, fmt.Errorf("scimUser: missing or not an object")
		}
		it.key = str(scimUser["originalId"])
		if it.key == "" {
			it.key = str(scimUser["id"])
		}
		var emails []struct {
			Value   string `json:"value"`
			Primary bool   `json:"primary"`
		}
		_ = json.Unmarshal(scimUser["emails"], &emails)
		for j, e := range emails {
			if e.Primary || j == 0 && it.email == "" {
				it.email = e.Value
			}
		}
		it.idp = "cloud_directory"
		var prof struct {
			Attributes json.RawMessage `json:"attributes"`
		}
		_ = json.Unmarshal(m["profile"], &prof)
		it.attrs = prof.Attributes
	} else {
		it.key = str(m["id"])
		it.email = str(m["email"])
		it.attrs = m["attributes"]
		var ids []struct {
			Provider string          `json:"provider"`
			ID       json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(m["identities"], &ids)
		if len(ids) > 0 {
			it.idp = ids[0].Provider
			it.idpID = strings.Trim(string(ids[0].ID), `"`)
		}
	}
	if it.key == "" || seen[it.key] {
		key := ""
		if u := item.User; u != nil && u.Ferry != nil && u.Ferry.SourceID != "" && !seen[u.Ferry.SourceID] {
			key = u.Ferry.SourceID
		}
		if key == "" {
			key = "ferry-" + strconv.FormatInt(item.Seq, 10)
		}
		for seen[key] {
			key += "'"
		}
		it.key = key
		kb, _ := json.Marshal(key)
		if a.cd {
			scimUser["originalId"] = kb
			sb, err := json.Marshal(scimUser)
			if err != nil {
				return nil, err
			}
			m["scimUser"] = sb
		} else {
			m["id"] = kb
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		it.data = b
	}
	seen[it.key] = true
	return it, nil
}

// appIDWrite is one Write call's results.
type appIDWrite struct {
	a   *AppID
	res []core.Result
}

func (w *appIDWrite) set(it *appIDItem, r core.Result) {
	if r.Reason != "" {
		r.Reason = w.a.c.Redact(r.Reason)
	}
	w.res[it.idx] = r
}

// importRounds imports items, then settles the ones whose outcome was unknown, sending
// again only those the instance does not hold, a few rounds at most.
func (w *appIDWrite) importRounds(ctx context.Context, items []*appIDItem) error {
	for round := 0; len(items) > 0; round++ {
		if round > 0 {
			if err := w.a.sleep(ctx, round); err != nil {
				return err
			}
		}
		unknown, err := w.importOnce(ctx, items)
		if err != nil {
			return err
		}
		if len(unknown) == 0 {
			return nil
		}
		again, err := w.reconcile(ctx, unknown)
		if err != nil {
			return err
		}
		if round+1 >= appIDRounds {
			for _, it := range again {
				w.set(it, core.Result{Outcome: core.Rejected, Reason: fmt.Sprintf("not imported: App ID kept failing (%d attempts), and the user is not in the instance", appIDRounds)})
			}
			return nil
		}
		items = again
	}
	return nil
}

// importResult is the answer of both imports. A fail reason's "error" is any JSON value in
// IBM's SDK (ImportProfilesResponseFailReasonsItem.Error interface{}; see
// internal/sandbox/appid/FACTS.md), so it is kept raw: decoding it as a string would make
// an answer carrying an object unreadable, and the whole batch would be retried.
type importResult struct {
	Added       int `json:"added"`
	Failed      int `json:"failed"`
	FailReasons []struct {
		OriginalID string          `json:"originalId"`
		IDP        string          `json:"idp"`
		Error      json.RawMessage `json:"error"`
	} `json:"failReasons"`
}

// failText renders a fail reason's error as one bounded line: a string as it is, an object
// by its message (else description, else error), anything else as compact JSON.
func failText(raw json.RawMessage) string {
	text := string(raw)
	var s string
	var obj map[string]json.RawMessage
	switch {
	case json.Unmarshal(raw, &s) == nil:
		text = s
	case json.Unmarshal(raw, &obj) == nil:
		for _, k := range []string{"message", "description", "error"} {
			if v, ok := obj[k]; ok && json.Unmarshal(v, &s) == nil && s != "" {
				text = s
				break
			}
		}
	}
	return cut(strings.Join(strings.Fields(strings.ToValidUTF8(text, "\uFFFD")), " "), 400)
}

// importOnce sends one import request and returns the users whose outcome it left open.
func (w *appIDWrite) importOnce(ctx context.Context, items []*appIDItem) ([]*appIDItem, error) {
	a := w.a
	path, q := "users/import", url.Values(nil)
	if a.cd {
		path, q = "cloud_directory/import", url.Values{"encryption_secret": {a.secret}}
	}
	var body bytes.Buffer
	body.WriteString(`{"users":[`)
	for i, it := range items {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(it.data)
	}
	body.WriteString("]}")
	resp, err := a.c.Do(ctx, &httpx.Request{Method: http.MethodPost, Path: path, Query: q, Body: body.Bytes(),
		AllowStatus: []int{400, 413, 422}})
	if err != nil {
		if fatal(ctx, err) {
			return nil, err
		}
		return items, nil // may or may not have been imported
	}
	if resp.Status >= 400 {
		if len(items) > 1 {
			// Refused whole: halve until the users it objects to stand alone.
			h := len(items) / 2
			x, err := w.importOnce(ctx, items[:h])
			if err != nil {
				return nil, err
			}
			y, err := w.importOnce(ctx, items[h:])
			return append(x, y...), err
		}
		w.set(items[0], core.Result{Outcome: core.Rejected, Reason: "App ID refused the import: " + appIDError(resp.Status, resp.Body)})
		return nil, nil
	}
	var ir importResult
	if err := json.Unmarshal(resp.Body, &ir); err != nil {
		return items, nil
	}
	byKey := make(map[string]*appIDItem, len(items))
	for _, it := range items {
		byKey[it.key] = it
	}
	failed := map[*appIDItem]bool{}
	var exists []*appIDItem
	var stray []string
	for _, f := range ir.FailReasons {
		fr := struct{ OriginalID, IDP, Error string }{f.OriginalID, f.IDP, failText(f.Error)}
		it := byKey[fr.OriginalID]
		if it == nil || failed[it] {
			stray = append(stray, fr.Error)
			continue
		}
		failed[it] = true
		if alreadyExists(fr.Error) {
			exists = append(exists, it)
			// Exists: without --upsert, Verify may find it is this very user.
			w.set(it, core.Result{Outcome: core.Rejected, Reason: "exists in target: App ID: " + fr.Error, Exists: !a.upsert})
			continue
		}
		reason := "App ID import: " + fr.Error
		if fr.IDP != "" {
			reason += " (idp " + fr.IDP + ")"
		}
		w.set(it, core.Result{Outcome: core.Rejected, Reason: reason})
	}
	var rest []*appIDItem
	for _, it := range items {
		if !failed[it] {
			rest = append(rest, it)
		}
	}
	var unknown []*appIDItem
	if ir.Added == len(rest) && len(stray) == 0 && ir.Failed == len(failed) {
		for _, it := range rest {
			w.set(it, core.Result{Outcome: core.Created})
		}
	} else {
		// The answer does not account for every user: find out rather than guess.
		unknown = rest
	}
	if a.upsert {
		update := w.update
		if a.cd {
			update = w.updateCD
		}
		for _, it := range exists {
			if err := update(ctx, it); err != nil {
				return nil, err
			}
		}
	}
	return unknown, nil
}

// alreadyExists recognises App ID's duplicate-user failure.
func alreadyExists(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "already exist") || strings.Contains(m, "is taken") || strings.Contains(m, "duplicate")
}

// appIDError renders an App ID error body ({status, error, code, message}) for a reason.
func appIDError(status int, body []byte) string {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Error   any    `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && (e.Message != "" || e.Code != "") {
		msg = strings.TrimSpace(e.Code + " " + e.Message)
	}
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "\uFFFD")), " ")
	msg = cut(msg, 400)
	return strconv.Itoa(status) + " " + msg
}

// reconcile looks up users whose import outcome is unknown: found ones are written (by
// this run: a user that existed before would have failed as a duplicate), the others are
// returned to be imported again.
func (w *appIDWrite) reconcile(ctx context.Context, items []*appIDItem) ([]*appIDItem, error) {
	var again []*appIDItem
	for _, it := range items {
		f, err := w.a.find(ctx, it, "index")
		if err != nil {
			if fatal(ctx, err) {
				return nil, err
			}
			w.set(it, core.Result{Outcome: core.Rejected, Reason: "import outcome unknown and the lookup failed: " + err.Error() + " (check the instance before re-running)"})
			continue
		}
		if f != nil {
			w.set(it, core.Result{Outcome: core.Created, TargetID: f.ID})
			continue
		}
		again = append(again, it)
	}
	return again, nil
}

// found is a profile a lookup returned; with dataScope=full it carries the attributes
// and role names too.
type found struct {
	ID         string `json:"id"`
	IDP        string `json:"idp"`
	Identities []struct {
		Provider string `json:"provider"`
	} `json:"identities"`
	Attributes json.RawMessage `json:"attributes"`
	Roles      []string        `json:"roles"`
	raw        json.RawMessage // the profile as read, for Verify
}

// find looks a profile up by email (or, without one, by its identity's id). A hit must
// come from the same identity provider, since one email can belong to several profiles
// (a Google and a Facebook login). scope is "index" (ids only) or "full".
func (a *AppID) find(ctx context.Context, it *appIDItem, scope string) (*found, error) {
	q := url.Values{"dataScope": {scope}}
	switch {
	case it.email != "":
		q.Set("email", it.email)
	case it.idpID != "":
		q.Set("id", it.idpID)
	default:
		return nil, nil
	}
	var out struct {
		Users []json.RawMessage `json:"users"`
	}
	if err := a.c.GetJSON(ctx, "users", q, &out); err != nil {
		return nil, err
	}
	for _, raw := range out.Users {
		u := &found{raw: raw}
		if json.Unmarshal(raw, u) != nil {
			continue
		}
		idp := u.IDP
		if idp == "" && len(u.Identities) > 0 {
			idp = u.Identities[0].Provider
		}
		if it.idp == "" || idp == "" || strings.EqualFold(idp, it.idp) {
			return u, nil
		}
	}
	return nil, nil
}

// update brings an existing profile's attributes and roles in line (upsert).
func (w *appIDWrite) update(ctx context.Context, it *appIDItem) error {
	a := w.a
	f, err := a.find(ctx, it, "full")
	if err != nil || f == nil {
		if err != nil && fatal(ctx, err) {
			return err
		}
		why := "not found by email to update"
		if err != nil {
			why = "lookup failed: " + err.Error()
		}
		w.res[it.idx].Reason += "; " + a.c.Redact(why)
		return nil
	}
	id := f.ID
	path := "users/" + url.PathEscape(id)
	// dataScope=full answers with the attributes and role names; an instance that answers
	// with the index fields only is asked for them.
	var prof struct {
		Attributes json.RawMessage `json:"attributes"`
	}
	prof.Attributes = f.Attributes
	have := f.Roles
	if f.Attributes == nil {
		if err := a.c.GetJSON(ctx, path+"/profile", nil, &prof); err != nil {
			return w.updateFailed(ctx, it, err)
		}
		var roles struct {
			Roles []struct {
				Name string `json:"name"`
			} `json:"roles"`
		}
		if err := a.c.GetJSON(ctx, path+"/roles", nil, &roles); err != nil {
			return w.updateFailed(ctx, it, err)
		}
		have = make([]string, len(roles.Roles))
		for i, r := range roles.Roles {
			have[i] = r.Name
		}
	}
	changed := false
	if !sameJSON(it.attrs, prof.Attributes) {
		attrs := it.attrs
		if len(attrs) == 0 || string(attrs) == "null" {
			attrs = json.RawMessage(`{}`)
		}
		b, _ := json.Marshal(map[string]json.RawMessage{"attributes": attrs})
		if _, err := a.c.Do(ctx, &httpx.Request{Method: http.MethodPut, Path: path + "/profile", Body: b}); err != nil {
			return w.updateFailed(ctx, it, err)
		}
		changed = true
	}
	if !sameSet(have, it.roles) {
		ids, err := a.roleIDsFor(ctx, it.roles)
		if err != nil {
			return w.updateFailed(ctx, it, err)
		}
		b, _ := json.Marshal(map[string]any{"roles": map[string][]string{"ids": ids}})
		if _, err := a.c.Do(ctx, &httpx.Request{Method: http.MethodPut, Path: path + "/roles", Body: b}); err != nil {
			return w.updateFailed(ctx, it, err)
		}
		changed = true
	}
	out := core.Unchanged
	if changed {
		out = core.Updated
	}
	w.set(it, core.Result{Outcome: out, TargetID: id})
	return nil
}

func (w *appIDWrite) updateFailed(ctx context.Context, it *appIDItem, err error) error {
	if fatal(ctx, err) {
		return err
	}
	w.set(it, core.Result{Outcome: core.Rejected, Reason: "exists in target; updating it failed: " + err.Error()})
	return nil
}

// roleIDsFor maps role names (exact spelling, as App ID requires) to this instance's ids.
func (a *AppID) roleIDsFor(ctx context.Context, names []string) ([]string, error) {
	a.rolesMu.Lock()
	defer a.rolesMu.Unlock()
	lookup := func() {
		for _, n := range names {
			if _, ok := a.roleIDs[n]; !ok {
				a.roleIDs = nil
			}
		}
	}
	lookup()
	if a.roleIDs == nil {
		roles, err := appidapi.Roles(ctx, a.c)
		if err != nil {
			return nil, err
		}
		a.roleIDs = make(map[string]string, len(roles))
		for _, r := range roles {
			a.roleIDs[r.Name] = r.ID
		}
	}
	ids := make([]string, 0, len(names))
	for _, n := range names {
		id, ok := a.roleIDs[n]
		if !ok {
			return nil, fmt.Errorf("role %q does not exist in the instance", n)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// sameJSON compares two JSON values in substance (key order and spacing aside); absent,
// null and {} are the same empty attributes.
func sameJSON(a, b json.RawMessage) bool {
	norm := func(r json.RawMessage) any {
		var v any
		if len(bytes.TrimSpace(r)) == 0 || json.Unmarshal(r, &v) != nil || v == nil {
			return map[string]any{}
		}
		return v
	}
	x, _ := json.Append(nil, norm(a), json.SortMapKeys)
	y, _ := json.Append(nil, norm(b), json.SortMapKeys)
	return bytes.Equal(x, y)
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
