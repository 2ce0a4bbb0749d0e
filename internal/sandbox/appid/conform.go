package appid

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/segmentio/encoding/json"
)

// Conforms checks one request of an App ID client (ferry's) against FACTS.md: the path and
// method of a path.* row, the parameters of its query.* row (required ones present), and a
// body whose fields are those of its json.* rows. It names what is outside the table. The
// sandbox's own test holds the server side to the same table.
func Conforms(r *http.Request, body []byte) error {
	f, err := loadedFacts()
	if err != nil {
		return err
	}
	return f.conforms(r, body)
}

type factTable map[string]string

var loadedFacts = sync.OnceValues(func() (factTable, error) {
	rows, err := Facts()
	if err != nil {
		return nil, err
	}
	f := factTable{}
	for _, r := range rows {
		f[r.ID] = r.Value
	}
	return f, nil
})

func (f factTable) fields(id string) ([]string, map[string]bool) {
	v, ok := f[id]
	if !ok {
		panic("FACTS.md has no row " + id)
	}
	return FactFields(v)
}

// route finds the path.* row that method and path (relative to /management/v4/{tenant})
// match, or says why none does.
func (f factTable) route(method, path string) (string, error) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for id, v := range f {
		if !strings.HasPrefix(id, "path.") {
			continue
		}
		methods, pattern, _ := strings.Cut(v, " ")
		ps := strings.Split(strings.Trim(pattern, "/"), "/")
		if len(ps) != len(segs) {
			continue
		}
		match := true
		for i, p := range ps {
			if !(strings.HasPrefix(p, "{") && segs[i] != "") && p != segs[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		// A literal beats a placeholder (users/export is not users/{id}).
		if strings.Contains(pattern, "{") && f.literalRoute(segs) {
			continue
		}
		if !slices.Contains(strings.Split(methods, ","), method) {
			return "", fmt.Errorf("%s %s: FACTS.md %s allows only %s", method, path, id, methods)
		}
		return id, nil
	}
	return "", fmt.Errorf("%s %s: no path in FACTS.md", method, path)
}

func (f factTable) literalRoute(segs []string) bool {
	for id, v := range f {
		_, pattern, _ := strings.Cut(v, " ")
		if strings.HasPrefix(id, "path.") && !strings.Contains(pattern, "{") && strings.Trim(pattern, "/") == strings.Join(segs, "/") {
			return true
		}
	}
	return false
}

// keysIn checks that every key of the JSON object obj is in the field list of row id.
func (f factTable) keysIn(id, what string, obj json.RawMessage, drop ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return fmt.Errorf("%s is not a JSON object", what)
	}
	all, _ := f.fields(id)
	for k := range m {
		if !slices.Contains(all, k) || slices.Contains(drop, k) {
			return fmt.Errorf("%s sends %q, which FACTS.md %s does not list (%s)", what, k, id, f[id])
		}
	}
	return nil
}

// conforms checks one request of ferry's App ID client against the table.
func (f factTable) conforms(r *http.Request, body []byte) error {
	if r.URL.Path == "/identity/token" {
		if want, _, _ := strings.Cut(f["iam.path"], " "); r.Method != want {
			return fmt.Errorf("%s /identity/token, FACTS.md iam.path says %s", r.Method, f["iam.path"])
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Errorf("IAM token request body is not a form")
		}
		all, _ := f.fields("iam.form")
		for k := range form {
			if !slices.Contains(all, k) {
				return fmt.Errorf("IAM token request sends %q, which FACTS.md iam.form does not list", k)
			}
		}
		if form.Get("grant_type") != f["iam.grant"] {
			return fmt.Errorf("IAM grant_type %q, FACTS.md iam.grant says %q", form.Get("grant_type"), f["iam.grant"])
		}
		return nil
	}
	segs := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 4)
	if len(segs) < 4 || segs[0] != "management" || segs[1] != "v4" {
		return fmt.Errorf("%s %s is not under /management/v4/{tenantId}", r.Method, r.URL.Path)
	}
	path := "/" + segs[3]
	id, err := f.route(r.Method, path)
	if err != nil {
		return err
	}
	// Query parameters: those of the matching query.* row, required ones present.
	qid := "query." + strings.TrimPrefix(id, "path.")
	q := r.URL.Query()
	if _, ok := f[qid]; !ok {
		if len(q) > 0 {
			return fmt.Errorf("%s %s sends query %v, and FACTS.md has no %s", r.Method, path, q, qid)
		}
	} else {
		all, req := f.fields(qid)
		for k := range q {
			if !slices.Contains(all, k) {
				return fmt.Errorf("%s %s sends parameter %q, which FACTS.md %s does not list", r.Method, path, k, qid)
			}
		}
		for k := range req {
			if !q.Has(k) {
				return fmt.Errorf("%s %s lacks required parameter %s (FACTS.md %s)", r.Method, path, k, qid)
			}
		}
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return fmt.Errorf("%s %s body is not a JSON object", r.Method, path)
	}
	items := func(itemRow string) error {
		if err := f.keysIn("json.import.body", r.Method+" "+path, body); err != nil {
			return err
		}
		var us []json.RawMessage
		if err := json.Unmarshal(top["users"], &us); err != nil {
			return fmt.Errorf("%s %s: users is not an array", r.Method, path)
		}
		for i, u := range us {
			if err := f.keysIn(itemRow, fmt.Sprintf("%s %s users[%d]", r.Method, path, i), u); err != nil {
				return err
			}
		}
		return nil
	}
	switch id {
	case "path.users.import":
		return items("json.export.item")
	case "path.cd.import":
		return items("json.cd.item")
	case "path.users.profile":
		return f.keysIn("json.profile.put", "PUT profile", body)
	case "path.cd.user":
		return f.keysIn("json.cd.user.put", "PUT cloud_directory/Users", body)
	case "path.users.roles":
		outer, inner, _ := strings.Cut(f["json.userroles.put"], ".")
		if len(top) != 1 || top[outer] == nil {
			return fmt.Errorf("PUT user roles body %s is not {%s:{%s:[...]}}", body, outer, inner)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(top[outer], &m) != nil || len(m) != 1 || m[inner] == nil {
			return fmt.Errorf("PUT user roles body %s is not {%s:{%s:[...]}}", body, outer, inner)
		}
	case "path.roles", "path.role":
		if err := f.keysIn("json.role", r.Method+" role", body, "id"); err != nil {
			return err
		}
		var access []json.RawMessage
		_ = json.Unmarshal(top["access"], &access)
		for _, a := range access {
			if err := f.keysIn("json.role.access", "role access", a); err != nil {
				return err
			}
		}
	case "path.app.scopes":
		if len(top) != 1 || top[f["json.scopes"]] == nil {
			return fmt.Errorf("PUT scopes body %s is not {%s:[...]}", body, f["json.scopes"])
		}
	}
	return nil
}
