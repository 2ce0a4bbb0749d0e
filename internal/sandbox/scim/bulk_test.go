package scim

import (
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

func bulkOps(failOn int, ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i := range ops {
		list[i] = ops[i]
	}
	m := map[string]any{"schemas": []any{BulkReqURN}, "Operations": list}
	if failOn > 0 {
		m["failOnErrors"] = failOn
	}
	return m
}

func statuses(r reply) []string {
	var out []string
	for _, o := range r.body["Operations"].([]any) {
		out = append(out, str(o.(map[string]any)["status"]))
	}
	return out
}

func TestBulk(t *testing.T) {
	h := newHarness(t, Config{Strict: true})
	r := h.do("POST", "/Bulk", bulkOps(0,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bulk-a")},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bulk-b",
			EnterpriseURN, map[string]any{"manager": map[string]any{"value": "bulkId:a"}}, "schemas", []any{UserURN, EnterpriseURN})},
		map[string]any{"method": "PATCH", "path": "/Users/bulkId:a", "data": map[string]any{"schemas": []any{PatchURN},
			"Operations": []any{map[string]any{"op": "add", "path": "title", "value": "Lead"}}}},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("BULK-A")},
		map[string]any{"method": "PUT", "path": "/Users/bulkId:nope", "data": user("x")},
		map[string]any{"method": "DELETE", "path": "/Users/bulkId:b"},
	)).must(t, 200)
	if got := strings.Join(statuses(r), ","); got != "201,201,200,409,409,204" {
		t.Fatalf("statuses %s: %s", got, r.raw)
	}
	ops := r.body["Operations"].([]any)
	first := ops[0].(map[string]any)
	if first["bulkId"] != "a" || !strings.HasPrefix(str(first["location"]), h.url+"/Users/") || str(first["version"]) == "" {
		t.Fatalf("first op: %v", first)
	}
	if resp := ops[3].(map[string]any)["response"].(map[string]any); resp["scimType"] != errUniqueness || resp["status"] != "409" {
		t.Fatalf("duplicate op response: %v", resp)
	}
	aID, _ := h.srv.UserByName("bulk-a")
	a := h.do("GET", "/Users/"+aID, nil).must(t, 200)
	if a.body["title"] != "Lead" || h.srv.Len() != 1 {
		t.Fatalf("after bulk: %s, %d users", a.raw, h.srv.Len())
	}
}

func TestBulkFailOnErrors(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.do("POST", "/Bulk", bulkOps(1,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "1", "data": map[string]any{"schemas": []any{UserURN}}},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "2", "data": user("never")},
	)).must(t, 200)
	if got := statuses(r); len(got) != 1 || got[0] != "400" {
		t.Fatalf("statuses %v", got)
	}
	if h.srv.Len() != 0 {
		t.Fatal("operation after failOnErrors ran")
	}
	r = h.do("POST", "/Bulk", bulkOps(0,
		map[string]any{"method": "POST", "path": "/Users", "data": user("no-bulk-id")},
		map[string]any{"method": "GET", "path": "/Users"},
		map[string]any{"method": "POST", "path": "/Groups", "bulkId": "g", "data": user("g")},
	)).must(t, 200)
	if got := strings.Join(statuses(r), ","); got != "400,400,404" {
		t.Fatalf("statuses %s", got)
	}
}

func TestBulkLimits(t *testing.T) {
	h := newHarness(t, Config{BulkMaxOperations: 2, BulkMaxPayload: 600})
	op := func(id string) map[string]any {
		return map[string]any{"method": "POST", "path": "/Users", "bulkId": id, "data": user(id)}
	}
	r := h.do("POST", "/Bulk", bulkOps(0, op("a"), op("b"), op("c")))
	r.scimErr(t, 413)
	if !strings.Contains(str(r.body["detail"]), "maxOperations") {
		t.Fatalf("detail %v", r.body["detail"])
	}
	big := op("big")
	big["data"].(map[string]any)["displayName"] = strings.Repeat("x", 700)
	r = h.do("POST", "/Bulk", bulkOps(0, big))
	r.scimErr(t, 413)
	if !strings.Contains(str(r.body["detail"]), "maxPayloadSize") {
		t.Fatalf("detail %v", r.body["detail"])
	}
	if h.srv.Len() != 0 {
		t.Fatal("a refused bulk request wrote users")
	}
	h.do("POST", "/Bulk", bulkOps(0, op("a"), op("b"))).must(t, 200)
	if h.srv.Len() != 2 {
		t.Fatalf("%d users", h.srv.Len())
	}
}

func TestErrorBody(t *testing.T) {
	ct, b := ErrorBody(503)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || ct != MediaType || m["status"] != "503" || !listHas(m["schemas"], ErrorURN) {
		t.Fatalf("%s %s", ct, b)
	}
}
