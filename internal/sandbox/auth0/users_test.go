package auth0

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/segmentio/encoding/json"
)

func TestListUsersPaging(t *testing.T) {
	tn := newTenant(t, Config{Users: 1200, Seed: 7})
	cases := []struct {
		name       string
		query      string
		wantStatus int
		wantStart  int
		wantLen    int
		wantMsg    string
	}{
		{"defaults", q("include_totals", "true"), 200, 0, 50, ""},
		{"page 2", q("include_totals", "true", "page", "2", "per_page", "100"), 200, 200, 100, ""},
		{"last page under cap", q("include_totals", "true", "page", "9", "per_page", "100"), 200, 900, 100, ""},
		{"past the cap", q("page", "10", "per_page", "100"), 400, 0, 0, msgPageLimit},
		{"window straddles the cap", q("page", "33", "per_page", "30"), 400, 0, 0, msgPageLimit},
		{"per_page over 100", q("per_page", "101"), 400, 0, 0, "greater than maximum 100"},
		{"negative page", q("page", "-1"), 400, 0, 0, "less than minimum 0"},
		{"page not a number", q("page", "x"), 400, 0, 0, "Expected type integer"},
		{"per_page 0", q("include_totals", "true", "per_page", "0"), 200, 0, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tn.get("/api/v2/users" + c.query)
			if r.status != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, c.wantStatus, r.body)
			}
			if c.wantStatus != 200 {
				e := r.apiErr(t)
				if e.ErrorCode != "invalid_query_string" || !strings.Contains(e.Message, c.wantMsg) {
					t.Fatalf("error %+v, want message containing %q", e, c.wantMsg)
				}
				return
			}
			var p listPage
			r.json(t, &p)
			if p.Start != c.wantStart || p.Length != c.wantLen || len(p.Users) != c.wantLen || p.Total != 1200 {
				t.Fatalf("page start=%d length=%d users=%d total=%d", p.Start, p.Length, len(p.Users), p.Total)
			}
		})
	}
	// Without include_totals the answer is a bare array.
	var arr []json.RawMessage
	tn.get("/api/v2/users"+q("per_page", "5")).json(t, &arr)
	if len(arr) != 5 {
		t.Fatalf("bare array of %d users", len(arr))
	}
}

// TestCreatedAtWindowsReachEveryUser walks the documented workaround for the cap: created_at
// windows of fewer than 1,000 users, sorted created_at:1.
func TestCreatedAtWindowsReachEveryUser(t *testing.T) {
	const n = 2500
	tn := newTenant(t, Config{Users: n, Seed: 3})
	var got []string
	lo := time.UnixMilli(gen.CreatedAt(3, 0)).UTC()
	for len(got) < n {
		hi := lo.Add(700 * time.Minute) // users are created about a minute apart
		query := "created_at:[" + formatTime(lo) + " TO " + formatTime(hi) + "}"
		var ids []string
		for page := 0; ; page++ {
			var p listPage
			r := tn.get("/api/v2/users" + q("q", query, "sort", "created_at:1", "per_page", "100", "page", strconv.Itoa(page), "include_totals", "true"))
			if r.status != 200 {
				t.Fatalf("%s page %d: %d %s", query, page, r.status, r.body)
			}
			r.json(t, &p)
			if p.Total >= 1000 {
				t.Fatalf("window %s holds %d users", query, p.Total)
			}
			ids = append(ids, userIDs(t, p.Users)...)
			if len(ids) >= p.Total {
				break
			}
		}
		if len(ids) == 0 && len(got) < n {
			lo = hi
			continue
		}
		got = append(got, ids...)
		lo = hi
	}
	want := userIDs(t, tn.srv.Users())
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("windows returned %d users (want %d), or different ones", len(got), len(want))
	}
}

func TestListUsersQueryAndSort(t *testing.T) {
	const n = 300
	tn := newTenant(t, Config{Users: n, Seed: 11})
	all := tn.srv.Users()
	type prof struct {
		UserID    string `json:"user_id"`
		Email     string `json:"email"`
		CreatedAt string `json:"created_at"`
		UpdatedAt string `json:"updated_at"`
		AppMeta   struct {
			Plan string `json:"plan"`
		} `json:"app_metadata"`
	}
	profs := make([]prof, len(all))
	for k, raw := range all {
		json.Unmarshal(raw, &profs[k])
	}
	from, to := time.UnixMilli(gen.CreatedAt(11, 100)).UTC(), time.UnixMilli(gen.CreatedAt(11, 200)).UTC()
	since := profs[17].UpdatedAt
	count := func(f func(p prof) bool) int {
		n := 0
		for _, p := range profs {
			if f(p) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		name, q string
		want    int
	}{
		{"created_at inclusive-exclusive", "created_at:[" + formatTime(from) + " TO " + formatTime(to) + "}", 100},
		{"created_at inclusive both", "created_at:[" + formatTime(from) + " TO " + formatTime(to) + "]", 101},
		{"updated_at open end", "updated_at:[" + since + " TO *]", count(func(p prof) bool { return p.UpdatedAt >= since })},
		{"email exact, any case", `email:"` + strings.ToUpper(profs[5].Email) + `"`, 1},
		{"email wildcard", "email:*@example.org", count(func(p prof) bool { return strings.HasSuffix(p.Email, "@example.org") })},
		{"metadata field", "app_metadata.plan:pro", count(func(p prof) bool { return p.AppMeta.Plan == "pro" })},
		{"AND / NOT", "app_metadata.plan:pro AND NOT email:*@example.org", count(func(p prof) bool {
			return p.AppMeta.Plan == "pro" && !strings.HasSuffix(p.Email, "@example.org")
		})},
		{"OR", `user_id:"` + profs[1].UserID + `" OR user_id:"` + profs[2].UserID + `"`, 2},
		{"exists", "_exists_:username", -1},
		{"date only", "created_at:[2018-01-01 TO 2018-01-01]", count(func(p prof) bool { return strings.HasPrefix(p.CreatedAt, "2018-01-01") })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p listPage
			r := tn.get("/api/v2/users" + q("q", c.q, "include_totals", "true", "per_page", "100"))
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			r.json(t, &p)
			if c.want >= 0 && p.Total != c.want {
				t.Fatalf("q=%s: total %d, want %d", c.q, p.Total, c.want)
			}
			if c.want < 0 && (p.Total == 0 || p.Total == n) {
				t.Fatalf("q=%s: total %d", c.q, p.Total)
			}
		})
	}
	for _, bad := range []string{"created_at:[2020 TO", "email:\"open", "(a", "created_at:[yesterday TO *]"} {
		r := tn.get("/api/v2/users" + q("q", bad))
		if r.status != 400 || r.apiErr(t).ErrorCode != "invalid_query_string" {
			t.Errorf("q=%s: status %d %s", bad, r.status, r.body)
		}
	}
	// Sorting.
	for _, c := range []struct {
		sort string
		less func(a, b prof) bool
	}{
		{"created_at:1", func(a, b prof) bool { return a.CreatedAt <= b.CreatedAt }},
		{"created_at:-1", func(a, b prof) bool { return a.CreatedAt >= b.CreatedAt }},
		{"updated_at:1", func(a, b prof) bool { return a.UpdatedAt <= b.UpdatedAt }},
	} {
		var us []prof
		tn.get("/api/v2/users"+q("sort", c.sort, "per_page", "100")).json(t, &us)
		for k := 1; k < len(us); k++ {
			if !c.less(us[k-1], us[k]) {
				t.Fatalf("sort=%s out of order at %d", c.sort, k)
			}
		}
	}
	if r := tn.get("/api/v2/users" + q("sort", "nickname:2")); r.status != 400 {
		t.Fatalf("bad sort accepted: %d", r.status)
	}
}

func TestFieldsProjection(t *testing.T) {
	tn := newTenant(t, Config{Users: 5, Seed: 2})
	var us []map[string]any
	tn.get("/api/v2/users"+q("fields", "user_id,email", "include_fields", "true")).json(t, &us)
	for _, u := range us {
		if len(u) != 2 || u["user_id"] == nil || u["email"] == nil {
			t.Fatalf("projection kept %v", u)
		}
	}
	tn.get("/api/v2/users"+q("fields", "identities,app_metadata", "include_fields", "false")).json(t, &us)
	for _, u := range us {
		if u["identities"] != nil || u["app_metadata"] != nil || u["user_id"] == nil {
			t.Fatalf("exclusion kept %v", u)
		}
	}
}

func TestGetDeleteAndByEmail(t *testing.T) {
	tn := newTenant(t, Config{Users: 10, Seed: 4})
	ids := userIDs(t, tn.srv.Users())
	var u struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
	}
	r := tn.get("/api/v2/users/" + ids[3])
	if r.status != 200 {
		t.Fatalf("get: %d", r.status)
	}
	r.json(t, &u)
	if u.UserID != ids[3] {
		t.Fatalf("got %s", u.UserID)
	}
	var found []map[string]any
	tn.get("/api/v2/users-by-email"+q("email", strings.ToUpper(u.Email))).json(t, &found)
	if len(found) != 1 || found[0]["user_id"] != ids[3] {
		t.Fatalf("users-by-email: %v", found)
	}
	if r := tn.get("/api/v2/users-by-email"); r.status != 400 {
		t.Fatalf("missing email: %d", r.status)
	}
	if r := tn.do(http.MethodDelete, "/api/v2/users/"+ids[3], nil, ""); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	r = tn.get("/api/v2/users/" + ids[3])
	if r.status != 404 || r.apiErr(t).ErrorCode != "inexistent_user" {
		t.Fatalf("after delete: %d %s", r.status, r.body)
	}
	if tn.srv.Count() != 9 {
		t.Fatalf("count %d", tn.srv.Count())
	}
	tn.get("/api/v2/users-by-email"+q("email", u.Email)).json(t, &found)
	if len(found) != 0 {
		t.Fatal("deleted user still found by email")
	}
}

func TestMaxPerPage50(t *testing.T) {
	tn := newTenant(t, Config{Users: 60, MaxPerPage: 50})
	if r := tn.get("/api/v2/users" + q("per_page", "51")); r.status != 400 || !strings.Contains(r.apiErr(t).Message, "maximum 50") {
		t.Fatalf("per_page 51 with a cap of 50: %d %s", r.status, r.body)
	}
	if r := tn.get("/api/v2/users" + q("per_page", "50")); r.status != 200 {
		t.Fatalf("per_page 50: %d", r.status)
	}
	if got := tn.srv.Endpoint("http://127.0.0.1:1234"); got != "auth0://sandbox?base=http%3A%2F%2F127.0.0.1%3A1234" {
		t.Fatalf("endpoint %q", got)
	}
}
