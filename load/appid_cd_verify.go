package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// Cloud Directory users are read back and updated through the Cloud Directory user API
// (IBM/appid-go-sdk appidmanagementv4; internal/sandbox/appid/FACTS.md):
//
//	GET /cloud_directory/Users?query=<e-mail or userName>  ListCloudDirectoryUsers -> {Resources:[GetUser]}
//	PUT /cloud_directory/Users/{userId}                    UpdateCloudDirectoryUser
//
// A GetUser shows emails, name, displayName, userName, active and status (and meta, id,
// lockedUntil): those are what Verify compares of the scimUser ferry would import. Other
// scimUser members ferry may send (phone numbers, addresses, ...) are not shown by that
// API, so they cannot be compared. The user's custom attributes and roles live on its App
// ID profile, which GET /users?email=&dataScope=full finds (identity provider
// cloud_directory, identity id = the Cloud Directory user's id); when no such profile is
// found, they are left out of the comparison (not readable), never guessed.

// cdSCIM is what ferry compares of a scimUser, on either side.
type cdSCIM struct {
	UserName    string          `json:"userName"`
	DisplayName string          `json:"displayName"`
	Name        json.RawMessage `json:"name"`
	Active      *bool           `json:"active"`
	Status      string          `json:"status"`
	Emails      []struct {
		Value   string `json:"value"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
}

// cdState is one Cloud Directory user as the target holds it, next to what ferry would
// write.
type cdState struct {
	id        string          // the Cloud Directory user's id
	profileID string          // its App ID profile's id, "" when not found
	want      json.RawMessage // the scimUser ferry would write
	diff      []string        // attribute names that differ, scimUser ones first
	scimDiff  int             // how many of diff are scimUser members
}

// verifyCD implements core.Verifier for Cloud Directory targets.
func (a *AppID) verifyCD(ctx context.Context, items []core.Item) ([]core.Verdict, error) {
	out := make([]core.Verdict, len(items))
	seen := map[string]bool{}
	for i := range items {
		it, err := a.prepare(i, &items[i], seen)
		if err != nil {
			continue
		}
		st, err := a.readCD(ctx, it)
		if err != nil {
			if fatal(ctx, err) {
				return nil, err
			}
			continue // not read back: the refusal stands
		}
		if st == nil {
			continue
		}
		out[i] = core.Verdict{Found: true, TargetID: st.id, Diff: strings.Join(st.diff, ", "), Same: len(st.diff) == 0}
	}
	return out, nil
}

// readCD finds the Cloud Directory user an item's e-mail (else userName) names and
// compares it, and its profile, with the item. nil means there is none.
func (a *AppID) readCD(ctx context.Context, it *appIDItem) (*cdState, error) {
	var item struct {
		ScimUser json.RawMessage `json:"scimUser"`
	}
	var want cdSCIM
	if json.Unmarshal(it.data, &item) != nil || json.Unmarshal(item.ScimUser, &want) != nil {
		return nil, fmt.Errorf("scimUser is not readable")
	}
	key := it.email
	if key == "" {
		key = want.UserName
	}
	if key == "" {
		return nil, nil
	}
	var list struct {
		Resources []json.RawMessage `json:"Resources"`
	}
	q := url.Values{"query": {key}, "count": {strconv.Itoa(appIDBatch)}}
	if err := a.c.GetJSON(ctx, "cloud_directory/Users", q, &list); err != nil {
		return nil, err
	}
	for _, raw := range list.Resources {
		var got cdSCIM
		var id struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &got) != nil || json.Unmarshal(raw, &id) != nil || id.ID == "" || !cdHolds(&got, it.email, want.UserName) {
			continue
		}
		st := &cdState{id: id.ID, want: item.ScimUser, diff: cdDiff(&want, &got)}
		st.scimDiff = len(st.diff)
		if err := a.readCDProfile(ctx, it, st); err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, nil
}

// cdHolds reports whether a listed user is the one looked up: App ID's query matches an
// e-mail or a userName, so the hit is checked for the one asked.
func cdHolds(got *cdSCIM, email, userName string) bool {
	if email == "" {
		return got.UserName == userName
	}
	for _, e := range got.Emails {
		if strings.EqualFold(e.Value, email) {
			return true
		}
	}
	return false
}

// cdDiff names the scimUser members that differ. An absent active is App ID's default,
// true; a status is compared only when ferry would send one.
func cdDiff(want, got *cdSCIM) []string {
	var diff []string
	emails := func(s *cdSCIM) []string {
		out := make([]string, 0, len(s.Emails))
		for _, e := range s.Emails {
			out = append(out, strings.ToLower(e.Value)+"\x00"+strconv.FormatBool(e.Primary))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(emails(want), emails(got)) {
		diff = append(diff, "emails")
	}
	if !sameJSON(want.Name, got.Name) {
		diff = append(diff, "name")
	}
	if want.DisplayName != got.DisplayName {
		diff = append(diff, "displayName")
	}
	if want.UserName != "" && want.UserName != got.UserName {
		diff = append(diff, "userName")
	}
	active := func(b *bool) bool { return b == nil || *b }
	if active(want.Active) != active(got.Active) {
		diff = append(diff, "active")
	}
	if want.Status != "" && !strings.EqualFold(want.Status, got.Status) {
		diff = append(diff, "status")
	}
	return diff
}

// readCDProfile finds the user's App ID profile (the one whose cloud_directory identity is
// this user) and adds its attributes and roles to the comparison.
func (a *AppID) readCDProfile(ctx context.Context, it *appIDItem, st *cdState) error {
	if it.email == "" {
		return nil // the profiles search goes by e-mail
	}
	q := url.Values{"dataScope": {"full"}, "email": {it.email}}
	var out struct {
		Users []json.RawMessage `json:"users"`
	}
	if err := a.c.GetJSON(ctx, "users", q, &out); err != nil {
		return err
	}
	for _, raw := range out.Users {
		var p appIDProfile
		var id struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &p) != nil || json.Unmarshal(raw, &id) != nil || len(p.Identities) == 0 {
			continue
		}
		ident := p.Identities[0]
		if !strings.EqualFold(ident.Provider, "cloud_directory") || strings.Trim(string(ident.ID), `"`) != st.id {
			continue
		}
		st.profileID = id.ID
		if !sameJSON(it.attrs, p.Attributes) {
			st.diff = append(st.diff, "attributes")
		}
		if !sameSet(it.roles, p.Roles) {
			st.diff = append(st.diff, "roles")
		}
		return nil
	}
	return nil
}

// updateCD brings an existing Cloud Directory user in line (upsert): its scimUser members
// through PUT /cloud_directory/Users/{id}, then its profile's attributes and roles as a
// profile's are (update). App ID's update body has no name: a user whose name differs is
// not updated at all, and is rejected saying so, rather than changed in part.
//
// Password hashes cannot be set through this PUT either (its password is a new clear-text
// password, and the import is the only way in for a hash): the user keeps the password it
// has in the target, whatever hash the source holds.
func (w *appIDWrite) updateCD(ctx context.Context, it *appIDItem) error {
	a := w.a
	st, err := a.readCD(ctx, it)
	if err != nil {
		return w.updateFailed(ctx, it, err)
	}
	if st == nil {
		w.res[it.idx].Reason += "; not found by email or userName to update"
		return nil
	}
	if slices.Contains(st.diff[:st.scimDiff], "name") {
		w.set(it, core.Result{Outcome: core.Rejected, Reason: fmt.Sprintf("exists in target as Cloud Directory user %s with another name; "+
			"App ID's Cloud Directory update (PUT cloud_directory/Users/{id}) cannot change a name: not updated", st.id)})
		return nil
	}
	changed := st.scimDiff > 0
	if changed {
		if err := a.putCDUser(ctx, st); err != nil {
			return w.updateFailed(ctx, it, err)
		}
	}
	if st.profileID == "" {
		if changed {
			w.set(it, core.Result{Outcome: core.Rejected, Reason: fmt.Sprintf("exists in target: Cloud Directory user %s updated (%s), "+
				"but its App ID profile was not found: attributes and roles not updated", st.id, strings.Join(st.diff[:st.scimDiff], ", "))})
			return nil
		}
		w.set(it, core.Result{Outcome: core.Rejected, Reason: "exists in target: its App ID profile was not found to compare attributes and roles; not updated"})
		return nil
	}
	if len(st.diff) == st.scimDiff {
		// Attributes and roles were read and are the same: no need to look them up again.
		out := core.Unchanged
		if changed {
			out = core.Updated
		}
		w.set(it, core.Result{Outcome: out, TargetID: st.profileID})
		return nil
	}
	if err := w.update(ctx, it); err != nil {
		return err
	}
	if r := &w.res[it.idx]; r.Outcome == core.Unchanged && changed {
		r.Outcome = core.Updated
	}
	return nil
}

// putCDUser sends the members of UpdateCloudDirectoryUserOptions that ferry writes:
// emails (required), displayName, userName, active and status.
func (a *AppID) putCDUser(ctx context.Context, st *cdState) error {
	var su map[string]json.RawMessage
	if err := json.Unmarshal(st.want, &su); err != nil {
		return err
	}
	body := map[string]json.RawMessage{"emails": su["emails"], "active": json.RawMessage("true")}
	if len(body["emails"]) == 0 {
		body["emails"] = json.RawMessage("[]")
	}
	for _, k := range []string{"displayName", "userName", "active", "status"} {
		if v, ok := su[k]; ok && string(v) != "null" {
			body[k] = v
		}
	}
	if _, ok := body["displayName"]; !ok {
		body["displayName"] = json.RawMessage(`""`) // the user ferry writes has none
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = a.c.Do(ctx, &httpx.Request{Method: http.MethodPut, Path: "cloud_directory/Users/" + url.PathEscape(st.id), Body: b})
	return err
}
