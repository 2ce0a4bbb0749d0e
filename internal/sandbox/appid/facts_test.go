package appid

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

func TestIAMToken(t *testing.T) {
	h := newHarness(t, Config{TokenTTL: time.Hour})
	r := h.tokenReq("test-api-key").must(t, 200)
	if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(3600) ||
		r.body["expiration"] != float64(t0.Add(time.Hour).Unix()) || r.body["access_token"] == "" {
		t.Fatalf("token answer: %s", r.raw)
	}
	bad := h.tokenReq("wrong-key").must(t, 400)
	if bad.body["errorCode"] != "BXNIM0415E" || bad.body["errorMessage"] != "Provided API key could not be found" || bad.body["context"] == nil {
		t.Fatalf("wrong key: %s", bad.raw)
	}
	if strings.Contains(string(bad.raw), "wrong-key") {
		t.Fatal("the API key is echoed")
	}
	if h.tokenReq("").must(t, 400).body["errorCode"] != "BXNIM0109E" {
		t.Fatal("missing apikey")
	}
	req, _ := http.NewRequest("POST", h.url+"/identity/token", strings.NewReader("grant_type=password&apikey=test-api-key"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if send(t, req).must(t, 400).body["errorCode"] != "BXNIM0103E" {
		t.Fatal("unsupported grant type")
	}
}

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t, Config{})
	h.tick = 0
	h.do("GET", "/roles", nil).must(t, 200)
	h.clk.Advance(time.Hour - time.Second)
	h.do("GET", "/roles", nil).must(t, 200)
	h.clk.Advance(time.Second)
	if code := h.do("GET", "/roles", nil).appErr(t, 401); code != "TOKEN_EXPIRED" {
		t.Fatalf("code %s", code)
	}
	h.token = h.tokenReq("test-api-key").must(t, 200).body["access_token"].(string)
	h.do("GET", "/roles", nil).must(t, 200)
	h.token = "forged"
	h.do("GET", "/roles", nil).appErr(t, 401)
	h.token = ""
	h.do("GET", "/roles", nil).appErr(t, 401)
}

func TestWrongTenant(t *testing.T) {
	h := newHarness(t, Config{})
	req, _ := http.NewRequest("GET", h.url+"/management/v4/other-tenant/roles", nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	send(t, req).appErr(t, 404)
}

func TestUsersExportPaging(t *testing.T) {
	h := newHarness(t, Config{UserGen: genUser, UserCount: 120})
	r := h.do("GET", "/users/export?startIndex=0&count=100", nil).must(t, 200)
	opts := r.body["requestOptions"].(map[string]any)
	if r.body["itemsPerPage"] != float64(50) || r.body["totalResults"] != float64(120) || opts["count"] != float64(50) || len(users(r)) != 50 {
		t.Fatalf("count over the cap: itemsPerPage %v totalResults %v options %v", r.body["itemsPerPage"], r.body["totalResults"], opts)
	}
	seen := map[string]bool{}
	for start := 0; start < 120; {
		r := h.do("GET", fmt.Sprintf("/users/export?startIndex=%d&count=50", start), nil).must(t, 200)
		for _, u := range users(r) {
			if seen[u["email"].(string)] {
				t.Fatalf("%s twice", u["email"])
			}
			seen[u["email"].(string)] = true
			if u["id"] == "" || strings.HasPrefix(u["id"].(string), "orig-") {
				t.Fatalf("import kept the source id: %v", u["id"])
			}
		}
		start += int(r.body["itemsPerPage"].(float64))
	}
	if len(seen) != 120 {
		t.Fatalf("exported %d users", len(seen))
	}
	if n := len(users(h.do("GET", "/users/export?startIndex=500", nil).must(t, 200))); n != 0 {
		t.Fatalf("past the end: %d", n)
	}
	h.do("GET", "/users/export?count=-1", nil).appErr(t, 400)
	h.do("GET", "/users/export?startIndex=x", nil).appErr(t, 400)
}

func TestUsersImport(t *testing.T) {
	h := newHarness(t, Config{
		Applications: []AppSeed{{Name: "web", Scopes: []string{"read", "write"}}},
		Roles:        []RoleSeed{{Name: "admin", Access: map[string][]string{"web": {"read", "write"}}}},
	})
	r := h.do("POST", "/users/import", fixture(t, "users-import.json")).must(t, 200)
	if r.body["added"] != float64(2) || r.body["failed"] != float64(0) {
		t.Fatalf("docs example: %s", r.raw)
	}
	exp := users(h.do("GET", "/users/export", nil).must(t, 200))
	if len(exp) != 2 || exp[0]["roles"].([]any)[0] != "admin" {
		t.Fatalf("export after import: %v", exp)
	}
	// Facebook nests the picture; identities come back verbatim.
	ident := exp[1]["identities"].([]any)[0].(map[string]any)
	if ident["idpUserInfo"].(map[string]any)["picture"].(map[string]any)["data"].(map[string]any)["url"] != "https://url-to-idp-profile-picture.com" {
		t.Fatalf("identity changed: %v", ident)
	}

	item := func(id, provider, pid string, roles ...string) map[string]any {
		return map[string]any{"id": id, "email": id + "@x", "roles": roles,
			"identities": []any{map[string]any{"provider": provider, "id": pid}}}
	}
	r = h.do("POST", "/users/import", map[string]any{"users": []any{
		item("ok", "google", "1"),
		item("role-case", "google", "2", "Admin"), // roles must be spelled exactly
		item("role-missing", "google", "3", "auditor"),
		item("dup-instance", "google", "105646725068605084546"),
		item("dup-batch", "google", "1"),
		map[string]any{"id": "no-identities", "identities": []any{}},
		map[string]any{"id": "bad-identity", "identities": []any{map[string]any{"provider": "google"}}},
		"not an object",
		map[string]any{"id": "bad-attrs", "attributes": []any{1}, "identities": []any{map[string]any{"provider": "saml", "id": "9"}}},
		item("numeric-id", "facebook", "77", "admin"),
	}}).must(t, 200)
	if r.body["added"] != float64(2) || r.body["failed"] != float64(8) {
		t.Fatalf("added/failed: %s", r.raw)
	}
	reasons := map[string]string{}
	for _, fr := range r.body["failReasons"].([]any) {
		m := fr.(map[string]any)
		reasons[m["originalId"].(string)] = m["error"].(string)
		if m["originalId"] != "" && m["originalId"] != "no-identities" && m["originalId"] != "bad-identity" && m["idp"] == "" {
			t.Errorf("no idp in %v", m)
		}
	}
	for id, want := range map[string]string{"role-case": `role "Admin" does not exist`, "role-missing": `role "auditor"`,
		"dup-instance": "already exists", "dup-batch": "already exists", "no-identities": "no identities",
		"bad-identity": "provider and an id", "": "not a valid user", "bad-attrs": "attributes"} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("%q: reason %q, want %q", id, reasons[id], want)
		}
	}
	h.do("POST", "/users/import", `{"users":`).appErr(t, 400)
	h.do("POST", "/users/import", `{}`).appErr(t, 400)
}

func TestUserLimit(t *testing.T) {
	var l Limits
	l.defaults()
	if l.MaxUsers != 100_000 || l.MaxRoles != 50 || l.MaxScopes != 50 || l.RequestsPerSecond != 50 || l.BlockFor != 30*time.Second || l.CDPerRequest != 50 {
		t.Fatalf("documented limits: %+v", l)
	}
	h := newHarness(t, Config{UserGen: genUser, UserCount: 4, Limits: Limits{MaxUsers: 5}})
	r := h.do("POST", "/users/import", map[string]any{"users": []any{json.RawMessage(genUser(10)), json.RawMessage(genUser(11))}}).must(t, 200)
	if r.body["added"] != float64(1) || !strings.Contains(r.body["failReasons"].([]any)[0].(map[string]any)["error"].(string), "limit of 5 users") {
		t.Fatalf("%s", r.raw)
	}
	// Cloud Directory users count too.
	r = h.do("POST", "/cloud_directory/import?encryption_secret=s", map[string]any{"users": []any{genCD(1)}}).must(t, 200)
	if r.body["failed"] != float64(1) {
		t.Fatalf("%s", r.raw)
	}
}

func TestCloudDirectory(t *testing.T) {
	var seeds []json.RawMessage
	for i := 0; i < 60; i++ {
		seeds = append(seeds, genCD(i))
	}
	src := newHarness(t, Config{CDUsers: seeds})
	src.do("GET", "/cloud_directory/export", nil).appErr(t, 400) // encryption_secret is required
	r := src.do("GET", "/cloud_directory/export?encryption_secret=s3&count=100", nil).must(t, 200)
	if r.body["itemsPerPage"] != float64(50) || r.body["totalResults"] != float64(60) {
		t.Fatalf("count over 50: %v %v", r.body["itemsPerPage"], r.body["totalResults"])
	}
	first := users(r)[0]
	if ph := first["passwordHash"].(string); ph == "$2a$10$hash000" || first["passwordHashAlg"] != "bcrypt" {
		t.Fatalf("passwordHash in the clear: %v", first)
	}
	if first["scimUser"].(map[string]any)["userName"] != "cd000" || first["profile"].(map[string]any)["attributes"].(map[string]any)["i"] != float64(0) {
		t.Fatalf("item: %v", first)
	}

	dst := newHarness(t, Config{})
	other := newHarness(t, Config{})
	added := 0
	for start := 0; start < 60; {
		page := src.do("GET", fmt.Sprintf("/cloud_directory/export?encryption_secret=s3&startIndex=%d", start), nil).must(t, 200)
		body := map[string]any{"users": page.body["users"]}
		imp := dst.do("POST", "/cloud_directory/import?encryption_secret=s3", body).must(t, 200)
		added += int(imp.body["added"].(float64))
		wrong := other.do("POST", "/cloud_directory/import?encryption_secret=not-s3", body).must(t, 200)
		if wrong.body["added"] != float64(0) || !strings.Contains(fmt.Sprint(wrong.body["failReasons"]), "cannot be decrypted") {
			t.Fatalf("wrong secret: %s", wrong.raw)
		}
		start += int(page.body["itemsPerPage"].(float64))
	}
	if added != 60 {
		t.Fatalf("migrated %d", added)
	}
	// The target holds the same hash: exported with its own secret, it decrypts to it.
	again := users(dst.do("GET", "/cloud_directory/export?encryption_secret=k2&count=1", nil).must(t, 200))[0]
	if h, err := decryptHash("k2", again["passwordHash"].(string)); err != nil || h != "$2a$10$hash000" {
		t.Fatalf("hash after migration: %q %v", h, err)
	}
	// Importing the same users again fails each as a duplicate.
	page := src.do("GET", "/cloud_directory/export?encryption_secret=s3&count=5", nil).must(t, 200)
	dup := dst.do("POST", "/cloud_directory/import?encryption_secret=s3", map[string]any{"users": page.body["users"]}).must(t, 200)
	if dup.body["failed"] != float64(5) {
		t.Fatalf("%s", dup.raw)
	}
	var many []any
	for i := 100; i < 151; i++ {
		many = append(many, genCD(i))
	}
	dst.do("POST", "/cloud_directory/import?encryption_secret=s3", map[string]any{"users": many}).appErr(t, 400) // 51 > 50
	dst.do("POST", "/cloud_directory/import", map[string]any{"users": []any{}}).appErr(t, 400)
	// The docs' example item imports (its hash is taken as encrypted with the secret).
	var doc map[string][]map[string]any
	_ = json.Unmarshal(fixture(t, "cd-import.json"), &doc)
	doc["users"][0]["passwordHash"] = encryptHash("s3", doc["users"][0]["passwordHash"].(string))
	r = other.do("POST", "/cloud_directory/import?encryption_secret=s3", doc).must(t, 200)
	if r.body["added"] != float64(1) {
		t.Fatalf("docs example: %s", r.raw)
	}
}

func TestRoles(t *testing.T) {
	h := newHarness(t, Config{Applications: []AppSeed{{Name: "web", Scopes: []string{"read", "write"}}}})
	apps := h.do("GET", "/applications", nil).must(t, 200).body["applications"].([]any)
	web := apps[0].(map[string]any)
	if web["name"] != "web" || web["tenantId"] != "tenant-1" || web["type"] != "regularwebapp" || web["secret"] != nil {
		t.Fatalf("application: %v", web)
	}
	cid := web["clientId"].(string)
	role := func(name string, scopes ...string) map[string]any {
		return map[string]any{"name": name, "description": "d", "access": []any{map[string]any{"application_id": cid, "scopes": scopes}}}
	}
	r := h.do("POST", "/roles", role("admin", "read", "write")).must(t, 201)
	id := r.body["id"].(string)
	if code := h.do("POST", "/roles", role("admin")).appErr(t, 409); code != "CONFLICT" {
		t.Fatal(code)
	}
	h.do("POST", "/roles", role("x", "delete")).appErr(t, 400)
	h.do("POST", "/roles", map[string]any{"name": "y", "access": []any{map[string]any{"application_id": "nope", "scopes": []any{}}}}).appErr(t, 404)
	h.do("POST", "/roles", map[string]any{"description": "no name"}).appErr(t, 400)
	got := h.do("GET", "/roles/"+id, nil).must(t, 200)
	if got.body["name"] != "admin" || len(got.body["access"].([]any)[0].(map[string]any)["scopes"].([]any)) != 2 {
		t.Fatalf("%s", got.raw)
	}
	h.do("PUT", "/roles/"+id, role("administrator", "read")).must(t, 200)
	list := h.do("GET", "/roles", nil).must(t, 200).body["roles"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "administrator" {
		t.Fatalf("%v", list)
	}
	for i := 1; i < 50; i++ {
		h.do("POST", "/roles", role(fmt.Sprintf("role%02d", i))).must(t, 201)
	}
	if code := h.do("POST", "/roles", role("one-too-many")).appErr(t, 400); code != "LIMIT_EXCEEDED" {
		t.Fatal(code)
	}
	h.do("DELETE", "/roles/"+id, nil).must(t, 204)
	h.do("GET", "/roles/"+id, nil).appErr(t, 404)
	h.do("POST", "/roles", role("fits-again")).must(t, 201)
}

func TestScopes(t *testing.T) {
	h := newHarness(t, Config{Applications: []AppSeed{{Name: "web", Scopes: []string{"read", "write", "admin.all"}}},
		Roles: []RoleSeed{{Name: "editor", Access: map[string][]string{"web": {"read", "write"}}}}})
	cid := h.do("GET", "/applications", nil).must(t, 200).body["applications"].([]any)[0].(map[string]any)["clientId"].(string)
	path := "/applications/" + cid + "/scopes"
	// PUT replaces the whole list, and the scope that went away leaves the role.
	r := h.do("PUT", path, map[string]any{"scopes": []any{"read", "export_v2"}}).must(t, 200)
	if fmt.Sprint(r.body["scopes"]) != "[read export_v2]" {
		t.Fatalf("%s", r.raw)
	}
	if fmt.Sprint(h.do("GET", path, nil).must(t, 200).body["scopes"]) != "[read export_v2]" {
		t.Fatal("GET after PUT")
	}
	editor := h.do("GET", "/roles", nil).must(t, 200).body["roles"].([]any)[0].(map[string]any)
	if fmt.Sprint(editor["access"].([]any)[0].(map[string]any)["scopes"]) != "[read]" {
		t.Fatalf("role kept a removed scope: %v", editor)
	}
	for _, bad := range []string{"Read", "has-hyphen", "appid.read", "openid_x", "", strings.Repeat("a", 50), "spa ce"} {
		if code := h.do("PUT", path, map[string]any{"scopes": []any{"read", bad}}).appErr(t, 400); code != "INVALID_INPUT" {
			t.Errorf("%q: %s", bad, code)
		}
	}
	h.do("PUT", path, map[string]any{"scopes": []any{strings.Repeat("a", 49), "x.y_z.1"}}).must(t, 200)
	var fifty, fiftyOne []any
	for i := 0; i < 51; i++ {
		fiftyOne = append(fiftyOne, fmt.Sprintf("s%d", i))
	}
	fifty = fiftyOne[:50]
	h.do("PUT", path, map[string]any{"scopes": fifty}).must(t, 200)
	if code := h.do("PUT", path, map[string]any{"scopes": fiftyOne}).appErr(t, 400); code != "LIMIT_EXCEEDED" {
		t.Fatal(code)
	}
	h.do("PUT", path, map[string]any{}).appErr(t, 400)
	h.do("PUT", "/applications/nope/scopes", map[string]any{"scopes": []any{}}).appErr(t, 404)
	h.do("GET", "/applications/"+cid, nil).must(t, 200)
	created := h.do("POST", "/applications", map[string]any{"name": "spa", "type": "singlepageapp"}).must(t, 200)
	if created.body["clientId"] == "" || created.body["type"] != "singlepageapp" {
		t.Fatalf("%s", created.raw)
	}
	h.do("POST", "/applications", map[string]any{"name": "bad", "type": "native"}).appErr(t, 400)
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Config{})
	h.tick = 0
	for i := 0; i < 50; i++ {
		h.do("GET", "/roles", nil).must(t, 200)
	}
	r := h.do("GET", "/roles", nil)
	if code := r.appErr(t, 429); code != "TOO_MANY_REQUESTS" || r.header.Get("Retry-After") != "30" {
		t.Fatalf("51st request: %s Retry-After %q", code, r.header.Get("Retry-After"))
	}
	// Blocked for 30 s, however slowly the client retries; IAM stays available.
	h.clk.Advance(29 * time.Second)
	if r := h.do("GET", "/roles", nil); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("at 29 s: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	h.tokenReq("test-api-key").must(t, 200)
	h.clk.Advance(time.Second)
	h.do("GET", "/roles", nil).must(t, 200)
	// A steady 50 per second is fine.
	for sec := 0; sec < 3; sec++ {
		h.clk.Advance(time.Second)
		for i := 0; i < 50; i++ {
			h.do("GET", "/roles", nil).must(t, 200)
		}
	}
	if st := h.srv.Stats(); st.Throttled != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSearchProfileDelete(t *testing.T) {
	h := newHarness(t, Config{UserGen: genUser, UserCount: 3})
	r := h.do("GET", "/users?dataScope=index&email=USER0001@example.com", nil).must(t, 200)
	us := users(r)
	if r.body["totalResults"] != float64(1) || len(us) != 1 || us[0]["idp"] != "facebook" || us[0]["email"] != "user0001@example.com" || us[0]["identities"] != nil {
		t.Fatalf("search: %s", r.raw)
	}
	id := us[0]["id"].(string)
	full := users(h.do("GET", "/users?dataScope=full&email=user0001@example.com", nil).must(t, 200))
	if full[0]["identities"] == nil {
		t.Fatal("dataScope=full without identities")
	}
	if len(users(h.do("GET", "/users?dataScope=index", nil).must(t, 200))) != 3 {
		t.Fatal("search without filter")
	}
	h.do("GET", "/users", nil).appErr(t, 400) // dataScope is required
	h.do("GET", "/users?dataScope=everything", nil).appErr(t, 400)
	p := h.do("PUT", "/users/"+id+"/profile", map[string]any{"attributes": map[string]any{"points": "150", "role": "admin"}}).must(t, 200)
	if p.body["attributes"].(map[string]any)["role"] != "admin" || p.body["attributes"].(map[string]any)["n"] != nil {
		t.Fatalf("PUT profile replaces attributes: %s", p.raw)
	}
	h.do("PUT", "/users/"+id+"/profile", map[string]any{"attributes": "x"}).appErr(t, 400)
	if h.do("GET", "/users/"+id+"/profile", nil).must(t, 200).body["attributes"].(map[string]any)["points"] != "150" {
		t.Fatal("GET profile")
	}
	h.do("DELETE", "/users/"+id, nil).must(t, 204)
	h.do("GET", "/users/"+id+"/profile", nil).appErr(t, 404)
	h.do("DELETE", "/users/"+id, nil).appErr(t, 404)
	// The identity is free again.
	imp := h.do("POST", "/users/import", map[string]any{"users": []any{json.RawMessage(genUser(1))}}).must(t, 200)
	if imp.body["added"] != float64(1) {
		t.Fatalf("%s", imp.raw)
	}
}

func TestBodies(t *testing.T) {
	h := newHarness(t, Config{Limits: Limits{MaxBodyBytes: 100}})
	h.do("POST", "/users/import", `{"users":[`+strings.Repeat(" ", 200)+`]}`).appErr(t, 413)
	h.do("POST", "/users/import", []byte("{\"users\":[\"\xff\"]}")).appErr(t, 400)
	h.do("GET", "/nothing-here", nil).appErr(t, 404)
}

func TestWithFaults(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	in := fakeFaultServer(t, s)
	resp, err := http.Get(in + "/management/v4/x/roles")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 503 || body["code"] != "SERVICE_UNAVAILABLE" || body["status"] != float64(503) {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
}
