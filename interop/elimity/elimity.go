// Package elimity is a second independent SCIM 2.0 service provider for ferry's interop
// tests, assembled on github.com/elimity-com/scim, an open-source SCIM server library this
// project did not write. The library does the protocol: routing, schema validation and
// coercion of every request body, filter parsing and validation (and matching through
// filter.Validator.PassesFilter), PATCH request validation, ListResponse and error shapes,
// and /Schemas, /ResourceTypes and /ServiceProviderConfig. What it leaves to an embedding
// application is what this package supplies: in-memory stores behind its ResourceHandler
// interface, uniqueness (409), paging over the store, applying validated PATCH operations to
// a stored resource, and bearer-token authentication.
package elimity

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// AcmeURN is the custom User extension both interop servers declare, with one attribute of
// each shape a schema can give: string, integer, boolean, multi-valued string, complex.
const AcmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// AcmeSchema is the custom extension's schema, declared the library's way.
func AcmeSchema() schema.Schema {
	return schema.Schema{
		ID:          AcmeURN,
		Name:        optional.NewString("Acme User"),
		Description: optional.NewString("Acme's own user attributes"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "badge", CaseExact: true})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "level", Type: schema.AttributeTypeInteger()})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "remote"})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "skills", MultiValued: true})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "office",
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "building"}),
					schema.SimpleNumberParams(schema.NumberParams{Name: "floor", Type: schema.AttributeTypeInteger()}),
				},
			}),
		},
	}
}

// Option changes the server Handler builds.
type Option func(*config)

type config struct{ noAcme bool }

// WithoutAcme builds a server that does not declare the acme extension: a target that
// lacks an extension the source's users carry. Like any schema-validating server, it
// refuses a user whose body holds data under an extension it does not know.
func WithoutAcme() Option { return func(c *config) { c.noAcme = true } }

// Handler returns the SCIM service provider mounted at /scim/v2, accepting only
// "Authorization: Bearer TOKEN".
func Handler(token string, opts ...Option) (http.Handler, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	userExts := []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}}
	if !cfg.noAcme {
		userExts = append(userExts, scim.SchemaExtension{Schema: AcmeSchema()})
	}
	users := newStore("User", "userName")
	groups := newStore("Group", "displayName")
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type: scim.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token",
				Description: "Authentication with a bearer token", Primary: true,
			}},
			// Below ferry's page of 100, so every page it asks for comes back short (the
			// library caps count at MaxResults), as from many real providers.
			MaxResults:       64,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []scim.ResourceType{
			{
				ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
				Description:      optional.NewString("User Account"),
				Schema:           schema.CoreUserSchema(),
				SchemaExtensions: userExts,
				Handler:          users,
			},
			{
				ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
				Description: optional.NewString("Group"),
				Schema:      schema.CoreGroupSchema(),
				Handler:     groups,
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("elimity: %w", err)
	}
	mux := http.NewServeMux()
	// The library serves paths with or without /v2: mount it under /scim, as its docs show.
	mux.Handle("/scim/", http.StripPrefix("/scim", srv))
	want := "Bearer " + token
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("Content-Type", "application/scim+json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="elimity-interop"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"invalid bearer token"}`))
			return
		}
		mux.ServeHTTP(w, r)
	}), nil
}

// store is one resource type's in-memory store, in creation order (so paging is stable).
type store struct {
	unique       string // the attribute unique case-insensitively on this server
	resourceType string

	mu    sync.Mutex
	order []string
	byID  map[string]*scim.Resource
	byKey map[string]string // lower(unique) -> id
}

var _ scim.ResourceHandler = (*store)(nil)

func newStore(resourceType, unique string) *store {
	return &store{resourceType: resourceType, unique: unique, byID: map[string]*scim.Resource{}, byKey: map[string]string{}}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *store) key(a scim.ResourceAttributes) string {
	v, _ := a[s.unique].(string)
	return strings.ToLower(v)
}

func externalID(a scim.ResourceAttributes) optional.String {
	if v, ok := a[schema.CommonAttributeExternalID].(string); ok {
		return optional.NewString(v)
	}
	return optional.String{}
}

func conflict(attr, v string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Status: http.StatusConflict,
		Detail: fmt.Sprintf("%s %q is already in use", attr, v)}
}

func (s *store) Create(_ *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(a)
	if _, dup := s.byKey[k]; dup {
		return scim.Resource{}, conflict(s.unique, k)
	}
	now := time.Now().UTC()
	id := newID()
	r := &scim.Resource{ID: id, ExternalID: externalID(a), Attributes: a,
		Meta: scim.Meta{Created: &now, LastModified: &now, Version: `W/"1"`}}
	s.byID[id], s.byKey[k] = r, id
	s.order = append(s.order, id)
	return *r, nil
}

func (s *store) Get(_ *http.Request, id string) (scim.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return *r, nil
}

// GetAll filters with the library's validated filter and pages over the store: the library
// parses startIndex/count and the filter, the store applies them.
func (s *store) GetAll(_ *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	order := s.order
	if p.FilterValidator != nil {
		if ids, ok := s.candidates(p.FilterValidator.GetFilter()); ok {
			order = ids
		}
	}
	var hits []scim.Resource
	for _, id := range order {
		r := s.byID[id]
		if p.FilterValidator != nil {
			// PassesFilter sees the stored attributes plus the common ones the filter may
			// name: id, externalId, and meta (meta.lastModified ge T is how a client asks
			// what changed since T; without it here every such query answers nothing).
			m := make(map[string]any, len(r.Attributes)+2)
			for k, v := range r.Attributes {
				m[k] = v
			}
			m[schema.CommonAttributeID] = r.ID
			meta := map[string]any{"resourceType": s.resourceType, "version": r.Meta.Version}
			if r.Meta.Created != nil {
				meta["created"] = r.Meta.Created.Format(time.RFC3339)
			}
			if r.Meta.LastModified != nil {
				meta["lastModified"] = r.Meta.LastModified.Format(time.RFC3339)
			}
			m["meta"] = meta
			if p.FilterValidator.PassesFilter(m) != nil {
				continue
			}
		}
		hits = append(hits, *r)
	}
	page := scim.Page{TotalResults: len(hits), Resources: []scim.Resource{}}
	start := max(p.StartIndex, 1) - 1
	if start < len(hits) && p.Count > 0 {
		page.Resources = hits[start:min(len(hits), start+p.Count)]
	}
	return page, nil
}

// candidates narrows a listing to the resources a filter can match when it is `unique eq
// "x"`, alone or or-ed (the lookup provisioning clients send before creating): a real
// store answers that from its index, not by scanning every resource. The library's
// PassesFilter still decides which candidates match. ok is false for any other filter.
func (s *store) candidates(e filter.Expression) (ids []string, ok bool) {
	var names []string
	var walk func(filter.Expression) bool
	walk = func(e filter.Expression) bool {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			return x.Operator == filter.OR && walk(x.Left) && walk(x.Right)
		case *filter.AttributeExpression:
			v, isStr := x.CompareValue.(string)
			p := x.AttributePath
			if x.Operator != filter.EQ || !isStr || p.SubAttribute != nil || !strings.EqualFold(p.AttributeName, s.unique) {
				return false
			}
			names = append(names, strings.ToLower(v))
			return true
		}
		return false
	}
	if !walk(e) {
		return nil, false
	}
	for _, n := range names {
		if id, found := s.byKey[n]; found && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, true
}

func (s *store) Replace(_ *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replaceLocked(id, a)
}

func (s *store) replaceLocked(id string, a scim.ResourceAttributes) (scim.Resource, error) {
	r, ok := s.byID[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	oldK, k := s.key(r.Attributes), s.key(a)
	if other, dup := s.byKey[k]; dup && other != id {
		return scim.Resource{}, conflict(s.unique, k)
	}
	delete(s.byKey, oldK)
	s.byKey[k] = id
	now := time.Now().UTC()
	var n int
	_, _ = fmt.Sscanf(r.Meta.Version, `W/"%d"`, &n)
	next := &scim.Resource{ID: id, ExternalID: externalID(a), Attributes: a,
		Meta: scim.Meta{Created: r.Meta.Created, LastModified: &now, Version: fmt.Sprintf(`W/"%d"`, n+1)}}
	s.byID[id] = next
	return *next, nil
}

func (s *store) Delete(_ *http.Request, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(s.byKey, s.key(r.Attributes))
	delete(s.byID, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	return nil
}

// Patch applies operations the library has already parsed and validated against the
// schema. The library does not apply them to a resource (that is the application's store);
// this does the part a directory needs: add/replace of a top-level or extension attribute
// (appending to multi-valued ones on add), add without a path, and remove of an attribute
// or of the elements of a multi-valued one that a value filter ("members[value eq
// \"id\"]") selects, with eq on a sub-attribute, the form provisioning clients send.
func (s *store) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	a := deepCopy(r.Attributes).(map[string]any)
	for _, op := range ops {
		if err := apply(a, op); err != nil {
			return scim.Resource{}, err
		}
	}
	return s.replaceLocked(id, a)
}

func apply(a map[string]any, op scim.PatchOperation) error {
	if op.Path == nil {
		v, ok := op.Value.(map[string]any)
		if !ok {
			return scimerrors.ScimErrorInvalidValue
		}
		for k, x := range v {
			applyAttr(a, k, strings.ToLower(op.Op), x)
		}
		return nil
	}
	p := op.Path
	if p.SubAttribute != nil || p.AttributePath.SubAttribute != nil {
		return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidPath,
			Detail: "this server patches whole attributes or filtered elements only"}
	}
	target := a
	if u := p.AttributePath.URIPrefix; u != nil && !strings.EqualFold(*u, schema.UserSchema) && !strings.EqualFold(*u, schema.GroupSchema) {
		ext, _ := a[*u].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			a[*u] = ext
		}
		target = ext
	}
	name := p.AttributePath.AttributeName
	if p.ValueExpression != nil {
		if strings.ToLower(op.Op) != "remove" {
			return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidPath,
				Detail: "a value filter is supported on remove only"}
		}
		e, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || e.Operator != filter.EQ {
			return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidFilter,
				Detail: "only attr eq value filters are supported in a PATCH path"}
		}
		k := key(target, name)
		list, _ := target[k].([]any)
		target[k] = slices.DeleteFunc(slices.Clone(list), func(x any) bool {
			m, _ := x.(map[string]any)
			return m != nil && fmt.Sprint(m[e.AttributePath.AttributeName]) == fmt.Sprint(e.CompareValue)
		})
		return nil
	}
	applyAttr(target, name, strings.ToLower(op.Op), op.Value)
	return nil
}

// key finds an attribute's stored spelling (names are case-insensitive, RFC 7643 §2.1).
func key(m map[string]any, name string) string {
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

func applyAttr(m map[string]any, name, op string, v any) {
	k := key(m, name)
	switch op {
	case "remove":
		delete(m, k)
	case "add":
		if cur, ok := m[k].([]any); ok {
			if add, ok := v.([]any); ok {
				for _, x := range add {
					if !slices.ContainsFunc(cur, func(y any) bool { return fmt.Sprint(y) == fmt.Sprint(x) }) {
						cur = append(cur, x)
					}
				}
				m[k] = cur
				return
			}
		}
		m[k] = v
	default:
		m[k] = v
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case scim.ResourceAttributes:
		return deepCopy(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, y := range x {
			out[k] = deepCopy(y)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = deepCopy(y)
		}
		return out
	default:
		return v
	}
}
