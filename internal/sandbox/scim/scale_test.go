package scim

import (
	"net/url"
	"testing"
)

// TestManyUsers seeds enough users to catch quadratic work in create and list.
func TestManyUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	h := newHarness(t, Config{Users: genUsers(20000)})
	r := h.do("GET", "/Users?count=200&cursor=", nil).must(t, 200)
	n := len(resources(r))
	for cur, ok := r.body["nextCursor"].(string); ok; cur, ok = r.body["nextCursor"].(string) {
		r = h.do("GET", "/Users?count=200&cursor="+url.QueryEscape(cur), nil).must(t, 200)
		n += len(resources(r))
	}
	if n != 20000 {
		t.Fatalf("paged %d users", n)
	}
}
