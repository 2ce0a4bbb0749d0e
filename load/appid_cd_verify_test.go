package load

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	sbappid "github.com/ferry-dev/ferry/internal/sandbox/appid"
)

// cdExport reads every Cloud Directory user of an instance as its export gives them: what
// a migration into the same instance (a re-run, a resume) would write again.
func cdExport(t *testing.T, a *AppID) [][]byte {
	t.Helper()
	var out [][]byte
	for start := 0; ; start += 50 {
		var page struct {
			Users []json.RawMessage `json:"users"`
		}
		q := map[string][]string{"encryption_secret": {"s3cret-for-tests"}, "startIndex": {strconv.Itoa(start)}, "count": {"50"}}
		if err := a.c.GetJSON(context.Background(), "cloud_directory/export", q, &page); err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			out = append(out, u)
		}
		if len(page.Users) < 50 {
			return out
		}
	}
}

// editCD rewrites a Cloud Directory export item.
func editCD(t *testing.T, rec []byte, f func(item, scimUser map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	f(m, m["scimUser"].(map[string]any))
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The target user by e-mail, as GET /cloud_directory/Users shows it, and its profile.
func cdTarget(t *testing.T, a *AppID, email string) (user, prof map[string]any) {
	t.Helper()
	var list struct {
		Resources []map[string]any `json:"Resources"`
	}
	if err := a.c.GetJSON(context.Background(), "cloud_directory/Users", map[string][]string{"query": {email}}, &list); err != nil || len(list.Resources) != 1 {
		t.Fatalf("GET cloud_directory/Users?query=%s: %v %v", email, err, list.Resources)
	}
	var ps struct {
		Users []map[string]any `json:"users"`
	}
	if err := a.c.GetJSON(context.Background(), "users", map[string][]string{"dataScope": {"full"}, "email": {email}}, &ps); err != nil || len(ps.Users) != 1 {
		t.Fatalf("GET users?email=%s: %v %v", email, err, ps.Users)
	}
	return list.Resources[0], ps.Users[0]
}

// TestAppIDCloudDirectoryRerun: a Cloud Directory migration run again into the same
// instance, without and with --upsert. Without, the users the instance holds as ferry
// would write them are no conflict, and one that differs is rejected naming what differs
// (names, never values); with, it is updated through PUT cloud_directory/Users/{id} and
// its profile, or left alone when the same, and a changed name is refused, not half-done.
func TestAppIDCloudDirectoryRerun(t *testing.T) {
	const n = 6
	edit := func(f func(item, su map[string]any)) func(*testing.T, []byte) []byte {
		return func(t *testing.T, rec []byte) []byte { return editCD(t, rec, f) }
	}
	for _, c := range []struct {
		name    string
		upsert  bool
		change  func(*testing.T, []byte) []byte // applied to user 0; nil: all the same
		created int64
		updated int64
		skipped int64
		reason  []string // in user 0's rejection, when rejected
		check   func(t *testing.T, user, prof map[string]any)
	}{
		{name: "same, no upsert", skipped: n},
		{name: "same, upsert", upsert: true, skipped: n},
		{name: "displayName, no upsert", change: edit(func(_, su map[string]any) { su["displayName"] = "Someone Else 7f3a" }),
			skipped: n - 1, reason: []string{"already exists", "holds other data (displayName)", "not overwritten without --upsert"}},
		{name: "attributes, no upsert", change: edit(func(m, _ map[string]any) { m["profile"] = map[string]any{"attributes": map[string]any{"n": "gold"}} }),
			skipped: n - 1, reason: []string{"holds other data (attributes)"}},
		{name: "roles, no upsert", change: edit(func(m, _ map[string]any) { m["roles"] = []any{"viewer", "auditor"} }),
			skipped: n - 1, reason: []string{"holds other data (roles)"}},
		{name: "name and active, no upsert", change: edit(func(_, su map[string]any) {
			su["name"] = map[string]any{"givenName": "Someone", "familyName": "Else"}
			su["active"] = false
		}), skipped: n - 1, reason: []string{"holds other data (name, active)"}},
		{name: "displayName and active, upsert", upsert: true, change: edit(func(_, su map[string]any) {
			su["displayName"] = "Renamed"
			su["active"] = false
		}), updated: 1, skipped: n - 1, check: func(t *testing.T, user, _ map[string]any) {
			if user["displayName"] != "Renamed" || user["active"] != false {
				t.Errorf("after upsert the target holds %v", user)
			}
		}},
		{name: "attributes and roles, upsert", upsert: true, change: edit(func(m, _ map[string]any) {
			m["profile"] = map[string]any{"attributes": map[string]any{"n": "gold"}}
			m["roles"] = []any{"viewer", "auditor"}
		}), updated: 1, skipped: n - 1, check: func(t *testing.T, _, prof map[string]any) {
			if fmt.Sprint(prof["attributes"]) != "map[n:gold]" || fmt.Sprint(prof["roles"]) != "[viewer auditor]" {
				t.Errorf("after upsert the profile holds %v %v", prof["attributes"], prof["roles"])
			}
		}},
		{name: "name, upsert", upsert: true, change: edit(func(_, su map[string]any) {
			su["name"] = map[string]any{"givenName": "Someone", "familyName": "Else"}
			su["displayName"] = "Someone Else"
		}), skipped: n - 1, reason: []string{"with another name", "cannot change a name: not updated"},
			check: func(t *testing.T, user, _ map[string]any) {
				if user["displayName"] != "CD User 0" {
					t.Errorf("a refused update changed the user: %v", user)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newAppIDEnv(t, sbappid.Config{CDUsers: cdSeeds(n)}, "")
			recs := cdExport(t, e.sink(t, false, "&cloud_directory=true"))
			if len(recs) != n {
				t.Fatalf("%d users exported", len(recs))
			}
			if c.change != nil {
				recs[0] = c.change(t, recs[0])
			}
			sum, reasons := migrate(t, core.FormatAppIDCD, recs, e.sink(t, c.upsert, "&cloud_directory=true"), 2)
			rejected := int64(n) - c.created - c.updated - c.skipped
			if sum.Read != n || sum.Created != c.created || sum.Updated != c.updated || sum.Skipped != c.skipped || sum.Rejected != rejected {
				t.Fatalf("summary %+v, want created %d updated %d skipped %d rejected %d; reasons %v",
					sum, c.created, c.updated, c.skipped, rejected, reasons)
			}
			if rejected > 0 {
				for _, want := range c.reason {
					if !strings.Contains(reasons[0], want) {
						t.Errorf("reason %q does not say %q", reasons[0], want)
					}
				}
				for _, value := range []string{"Someone", "gold", "auditor"} {
					if strings.Contains(reasons[0], value) {
						t.Errorf("reason %q carries the value %q", reasons[0], value)
					}
				}
			}
			if _, cd := e.srv.UserCount(); cd != n {
				t.Errorf("the instance holds %d Cloud Directory users, want %d", cd, n)
			}
			for k, calls := range e.rec.calls {
				if strings.HasPrefix(k, "POST ") && k != "POST import" && k != "POST token" {
					t.Errorf("%d %s requests", calls, k)
				}
			}
			if !c.upsert && (e.rec.count("PUT Users/{id}") > 0 || e.rec.count("PUT profile") > 0 || e.rec.count("PUT roles") > 0) {
				t.Errorf("a run without --upsert wrote: %v", e.rec.calls)
			}
			if c.check != nil {
				user, prof := cdTarget(t, e.sink(t, false, "&cloud_directory=true"), "cd0@example.com")
				c.check(t, user, prof)
			}
		})
	}
}

// TestAppIDCloudDirectoryVerify: the Verifier on its own, as the pipeline asks it about
// users refused as existing.
func TestAppIDCloudDirectoryVerify(t *testing.T) {
	e := newAppIDEnv(t, sbappid.Config{CDUsers: cdSeeds(3)}, "")
	a := e.sink(t, false, "&cloud_directory=true")
	recs := cdExport(t, a)
	absent := editCD(t, recs[2], func(_, su map[string]any) {
		su["emails"] = []any{map[string]any{"value": "nobody@example.com", "primary": true}}
		su["userName"] = "nobody"
	})
	noEmail := editCD(t, recs[1], func(_, su map[string]any) { delete(su, "emails") })
	otherEmails := editCD(t, recs[1], func(_, su map[string]any) {
		su["emails"] = []any{map[string]any{"value": "cd1@example.com", "primary": true}, map[string]any{"value": "x@example.com"}}
	})
	items := []core.Item{{Data: recs[0]}, {Data: absent}, {Data: noEmail}, {Data: otherEmails}, {Data: []byte(`[1]`)}}
	vs, err := a.Verify(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []core.Verdict{
		{Found: true, Same: true},
		{},
		{Found: true, Same: false, Diff: "emails"}, // found by userName; without an e-mail its profile is not read
		{Found: true, Same: false, Diff: "emails"},
		{}, // unreadable: not found, the refusal stands
	} {
		got := vs[i]
		got.TargetID = ""
		if got != want {
			t.Errorf("item %d: %+v, want %+v", i, got, want)
		}
	}
	if vs[0].TargetID == "" {
		t.Errorf("no target id for a user found")
	}
}

// FuzzCDDiff: any scimUser a target answers is read without a panic, equals itself, and
// holds its own e-mail.
func FuzzCDDiff(f *testing.F) {
	f.Add([]byte(`{"userName":"u","displayName":"U","name":{"givenName":"A","formatted":"A"},"active":false,"status":"CONFIRMED","emails":[{"value":"A@x","primary":true},{"value":"b@x"}]}`))
	f.Add([]byte(`{"emails":[{"value":""}],"name":null,"active":null}`))
	f.Add([]byte(`{"emails":[],"name":{"x":[1,{"y":null}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s cdSCIM
		if json.Unmarshal(b, &s) != nil {
			return
		}
		if d := cdDiff(&s, &s); len(d) != 0 {
			t.Fatalf("%s differs from itself: %v", b, d)
		}
		if len(s.Emails) > 0 && s.Emails[0].Value != "" && !cdHolds(&s, strings.ToUpper(s.Emails[0].Value), "") {
			t.Fatalf("%s does not hold its own e-mail", b)
		}
		if s.UserName != "" && !cdHolds(&s, "", s.UserName) {
			t.Fatalf("%s does not hold its own userName", b)
		}
	})
}
