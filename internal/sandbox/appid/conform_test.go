package appid

import (
	"net/http"
	"strings"
	"testing"
)

// TestConforms checks the checker: requests the table allows pass, and each
// kind of departure is named.
func TestConforms(t *testing.T) {
	f, err := loadedFacts()
	if err != nil {
		t.Fatal(err)
	}
	req := func(method, target, body string) (*http.Request, []byte) {
		r, _ := http.NewRequest(method, "http://x"+target, nil)
		return r, []byte(body)
	}
	for _, c := range []struct {
		method, target, body, bad string
	}{
		{"GET", "/management/v4/t/users/export?startIndex=0&count=50", "", ""},
		{"GET", "/management/v4/t/users?dataScope=index&email=a%40b.c", "", ""},
		{"POST", "/management/v4/t/users/import", `{"users":[{"id":"x","identities":[],"attributes":{},"roles":["r"]}]}`, ""},
		{"PUT", "/management/v4/t/users/abc/roles", `{"roles":{"ids":["1"]}}`, ""},
		{"POST", "/identity/token", "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=k", ""},
		{"GET", "/management/v4/t/users", "", "lacks required parameter dataScope"},
		{"GET", "/management/v4/t/users/export?start=1", "", `parameter "start"`},
		{"PATCH", "/management/v4/t/users/abc/profile", "", "allows only GET,PUT"},
		{"GET", "/management/v4/t/users/abc/history", "", "no path"},
		{"POST", "/management/v4/t/users/import", `{"users":[{"id":"x","nickname":"n"}]}`, `"nickname"`},
		{"PUT", "/management/v4/t/users/abc/roles", `{"roles":["r"]}`, "is not {roles:{ids:[...]}}"},
		{"POST", "/identity/token", "grant_type=password&apikey=k", "grant_type"},
		{"GET", "/management/v4/t/roles?x=1", "", "has no query.roles"},
		{"GET", "/management/v4/t/cloud_directory/Users?query=a%40b.c&count=1", "", ""},
		{"PUT", "/management/v4/t/cloud_directory/Users/u1", `{"emails":[{"value":"a@b.c","primary":true}],"displayName":"A"}`, ""},
		{"PUT", "/management/v4/t/cloud_directory/Users/u1", `{"emails":[],"name":{"givenName":"A"}}`, `"name"`},
		{"GET", "/management/v4/t/cloud_directory/Users?filter=x", "", `parameter "filter"`},
	} {
		r, b := req(c.method, c.target, c.body)
		err := f.conforms(r, b)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s %s: %v", c.method, c.target, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("%s %s: error %v, want one saying %q", c.method, c.target, err, c.bad)
		}
	}
}
