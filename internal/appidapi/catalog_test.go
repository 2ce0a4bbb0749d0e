package appidapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// instance serves the three catalog paths with fixed bodies.
func instance(t *testing.T, apps, roles string, scopes map[string]string) *httpx.Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch p := r.URL.Path; {
		case p == "/applications":
			_, _ = w.Write([]byte(apps))
		case p == "/roles":
			_, _ = w.Write([]byte(roles))
		case strings.HasPrefix(p, "/applications/") && strings.HasSuffix(p, "/scopes"):
			_, _ = w.Write([]byte(scopes[strings.Split(p, "/")[2]]))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	c, err := httpx.New(httpx.Config{Name: "appid", BaseURL: ts.URL + "/", Limiter: httpx.NewLimiter(rate.Inf, 1), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalog(t *testing.T) {
	apps := `{"applications":[{"clientId":"c1","name":"web"},{"clientId":"c2","name":"api"}]}`
	scopes := map[string]string{"c1": `{"scopes":["read"]}`, "c2": `{"scopes":["write","admin"]}`}
	c := instance(t, apps, `{"roles":[
		{"id":"r1","name":"editor","description":"edits","access":[{"application_id":"c2","scopes":["write"]}]},
		{"id":"r2","name":"stale","access":[{"application_id":"gone","scopes":["x"]}]}]}`, scopes)
	cat, err := Catalog(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := &core.Catalog{
		Scopes: []core.Permission{{Resource: "web", Scope: "read"}, {Resource: "api", Scope: "write"}, {Resource: "api", Scope: "admin"}},
		Roles: []core.Role{
			{Name: "editor", Description: "edits", Permissions: []core.Permission{{Resource: "api", Scope: "write"}}},
			// A grant in an application the listing does not show stays, named by its id.
			{Name: "stale", Permissions: []core.Permission{{Resource: "client:gone", Scope: "x"}}},
		},
	}
	if !reflect.DeepEqual(cat, want) {
		t.Errorf("catalog\n got %+v\nwant %+v", cat, want)
	}

	dup := instance(t, `{"applications":[{"clientId":"c1","name":"web"},{"clientId":"c9","name":"web"}]}`, `{"roles":[]}`, scopes)
	if _, err := Catalog(context.Background(), dup); err == nil || !strings.Contains(err.Error(), `both named "web"`) {
		t.Errorf("two applications of one name: %v", err)
	}
}
