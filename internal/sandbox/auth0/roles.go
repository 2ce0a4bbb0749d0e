package auth0

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/segmentio/encoding/json"
)

type scope struct {
	Value       string `json:"value"`
	Description string `json:"description"`
}

type resourceServer struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Identifier string  `json:"identifier"`
	IsSystem   bool    `json:"is_system,omitempty"`
	Scopes     []scope `json:"scopes"`
	SigningAlg string  `json:"signing_alg"`
	TokenLife  int     `json:"token_lifetime"`
}

type permission struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
	ResourceServerName       string `json:"resource_server_name,omitempty"`
	Description              string `json:"description,omitempty"`
}

type role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	perms       []permission
	users       map[string]bool
}

// catalog is the tenant's resource servers, roles and role members.
type catalog struct {
	mu      sync.RWMutex
	servers []*resourceServer
	roles   []*role // by name
}

func (s *Server) newCatalog(empty bool) *catalog {
	c := &catalog{}
	// Every tenant has the Management API itself as a system resource server; a client
	// copying resource servers must leave it alone.
	c.servers = append(c.servers, &resourceServer{
		ID: s.randomHex(24), Name: "Auth0 Management API", Identifier: s.audience(), IsSystem: true,
		Scopes: []scope{
			{Value: "read:users", Description: "Read Users"}, {Value: "update:users", Description: "Update Users"},
			{Value: "read:roles", Description: "Read Roles"}, {Value: "create:roles", Description: "Create Roles"},
		},
		SigningAlg: "RS256", TokenLife: 86400,
	})
	if empty {
		return c
	}
	cat := gen.Catalog(s.cfg.Seed)
	byRes := map[string]*resourceServer{}
	for _, p := range cat.Scopes {
		rs := byRes[p.Resource]
		if rs == nil {
			name := strings.TrimSuffix(strings.TrimPrefix(p.Resource, "https://"), "/")
			rs = &resourceServer{ID: s.randomHex(24), Name: name, Identifier: p.Resource, SigningAlg: "RS256", TokenLife: 86400}
			byRes[p.Resource] = rs
			c.servers = append(c.servers, rs)
		}
		rs.Scopes = append(rs.Scopes, scope{Value: p.Scope, Description: p.Scope})
	}
	for _, r := range cat.Roles {
		ro := &role{ID: s.randomID("rol_", 16), Name: r.Name, Description: r.Description, users: map[string]bool{}}
		for _, p := range r.Permissions {
			ro.perms = append(ro.perms, permission{ResourceServerIdentifier: p.Resource, PermissionName: p.Scope})
		}
		c.roles = append(c.roles, ro)
	}
	c.sortRoles()
	return c
}

func (c *catalog) sortRoles() {
	slices.SortFunc(c.roles, func(a, b *role) int { return strings.Compare(a.Name, b.Name) })
}

func (c *catalog) role(id string) *role {
	for _, r := range c.roles {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (c *catalog) server(idOrIdentifier string) *resourceServer {
	for _, rs := range c.servers {
		if rs.ID == idOrIdentifier || rs.Identifier == idOrIdentifier {
			return rs
		}
	}
	return nil
}

func (c *catalog) assignByName(name, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.roles {
		if r.Name == name {
			r.users[userID] = true
		}
	}
}

func (c *catalog) unassignUser(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.roles {
		delete(r.users, id)
	}
}

func (s *Server) handleListRoles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pg, ok := parsePaging(w, q, s.cfg.MaxPerPage)
	if !ok {
		return
	}
	filter := strings.ToLower(q.Get("name_filter"))
	s.cat.mu.RLock()
	var out []*role
	for _, ro := range s.cat.roles {
		if filter == "" || strings.Contains(strings.ToLower(ro.Name), filter) {
			out = append(out, ro)
		}
	}
	s.cat.mu.RUnlock()
	writePage(w, pg, "roles", out)
}

func (s *Server) handleGetRole(w http.ResponseWriter, r *http.Request) {
	s.cat.mu.RLock()
	defer s.cat.mu.RUnlock()
	ro := s.cat.role(r.PathValue("id"))
	if ro == nil {
		writeError(w, http.StatusNotFound, "inexistent_role", msgRoleMissing)
		return
	}
	writeJSON(w, http.StatusOK, ro)
}

func (s *Server) handleCreateRole(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Name == "" {
		badBody(w, "Payload validation error: 'Missing required property: name'.")
		return
	}
	s.cat.mu.Lock()
	defer s.cat.mu.Unlock()
	for _, ro := range s.cat.roles {
		if ro.Name == body.Name {
			writeError(w, http.StatusConflict, "conflict", "Role name already exists")
			return
		}
	}
	ro := &role{ID: s.randomID("rol_", 16), Name: body.Name, Description: body.Description, users: map[string]bool{}}
	s.cat.roles = append(s.cat.roles, ro)
	s.cat.sortRoles()
	writeJSON(w, http.StatusOK, ro)
}

func (s *Server) handleRolePermissions(w http.ResponseWriter, r *http.Request) {
	pg, ok := parsePaging(w, r.URL.Query(), s.cfg.MaxPerPage)
	if !ok {
		return
	}
	s.cat.mu.RLock()
	ro := s.cat.role(r.PathValue("id"))
	if ro == nil {
		s.cat.mu.RUnlock()
		writeError(w, http.StatusNotFound, "inexistent_role", msgRoleMissing)
		return
	}
	out := make([]permission, 0, len(ro.perms))
	for _, p := range ro.perms {
		if rs := s.cat.server(p.ResourceServerIdentifier); rs != nil {
			p.ResourceServerName = rs.Name
			for _, sc := range rs.Scopes {
				if sc.Value == p.PermissionName {
					p.Description = sc.Description
				}
			}
		}
		out = append(out, p)
	}
	s.cat.mu.RUnlock()
	writePage(w, pg, "permissions", out)
}

func (s *Server) handleAddRolePermissions(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Permissions []permission `json:"permissions"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if len(body.Permissions) == 0 {
		badBody(w, "Payload validation error: 'Array is too short (0), minimum 1' on property permissions.")
		return
	}
	s.cat.mu.Lock()
	defer s.cat.mu.Unlock()
	ro := s.cat.role(r.PathValue("id"))
	if ro == nil {
		writeError(w, http.StatusNotFound, "inexistent_role", msgRoleMissing)
		return
	}
	// Validate every permission before adding any: the request is all or nothing.
	for _, p := range body.Permissions {
		rs := s.cat.server(p.ResourceServerIdentifier)
		if rs == nil {
			writeError(w, http.StatusNotFound, "inexistent_resource_server",
				"Resource server "+strconv.Quote(p.ResourceServerIdentifier)+" does not exist")
			return
		}
		if !slices.ContainsFunc(rs.Scopes, func(sc scope) bool { return sc.Value == p.PermissionName }) {
			badBody(w, "Permission "+strconv.Quote(p.PermissionName)+" does not exist on resource server "+strconv.Quote(rs.Identifier))
			return
		}
	}
	for _, p := range body.Permissions {
		p = permission{ResourceServerIdentifier: p.ResourceServerIdentifier, PermissionName: p.PermissionName}
		if !slices.Contains(ro.perms, p) {
			ro.perms = append(ro.perms, p)
		}
	}
	w.WriteHeader(http.StatusCreated)
}

type roleMember struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email,omitempty"`
	Picture string `json:"picture,omitempty"`
	Name    string `json:"name,omitempty"`
}

// handleRoleUsers serves GET /api/v2/roles/{id}/users: offset paging for the first 1,000
// members, checkpoint paging (from/take -> {users, next}) for any number.
func (s *Server) handleRoleUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cp, ok := parseCheckpoint(w, q)
	if !ok {
		return
	}
	var pg paging
	if !cp.on {
		if pg, ok = parsePaging(w, q, s.cfg.MaxPerPage); !ok {
			return
		}
		if pg.beyondCap() {
			badQuery(w, msgPageLimit+" Use checkpoint pagination (from, take) to read more.")
			return
		}
	}
	s.cat.mu.RLock()
	ro := s.cat.role(r.PathValue("id"))
	if ro == nil {
		s.cat.mu.RUnlock()
		writeError(w, http.StatusNotFound, "inexistent_role", msgRoleMissing)
		return
	}
	ids := make([]string, 0, len(ro.users))
	for id := range ro.users {
		ids = append(ids, id)
	}
	s.cat.mu.RUnlock()
	slices.Sort(ids)

	if !cp.on {
		start, end := pg.window(len(ids))
		members := s.members(ids[start:end])
		if !pg.totals {
			writeJSON(w, http.StatusOK, members)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"start": start, "limit": pg.perPage, "total": len(ids), "users": members})
		return
	}
	start, end, next := cp.window(ids)
	resp := map[string]any{"users": s.members(ids[start:end])}
	if next != "" {
		resp["next"] = next
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) members(ids []string) []roleMember {
	out := make([]roleMember, 0, len(ids))
	for _, id := range ids {
		m := roleMember{UserID: id}
		if u := s.store.get(id); u != nil {
			var p struct{ Email, Picture, Name string }
			_ = json.Unmarshal(u.raw, &p)
			m.Email, m.Picture, m.Name = p.Email, p.Picture, p.Name
		}
		out = append(out, m)
	}
	return out
}

func (s *Server) handleAssignRoleUsers(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Users []string `json:"users"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if len(body.Users) == 0 {
		badBody(w, "Payload validation error: 'Array is too short (0), minimum 1' on property users.")
		return
	}
	for _, id := range body.Users {
		if s.store.get(id) == nil {
			writeError(w, http.StatusNotFound, "inexistent_user", "User "+strconv.Quote(id)+" does not exist.")
			return
		}
	}
	s.cat.mu.Lock()
	defer s.cat.mu.Unlock()
	ro := s.cat.role(r.PathValue("id"))
	if ro == nil {
		writeError(w, http.StatusNotFound, "inexistent_role", msgRoleMissing)
		return
	}
	for _, id := range body.Users {
		ro.users[id] = true
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleUserRoles(w http.ResponseWriter, r *http.Request) {
	pg, ok := parsePaging(w, r.URL.Query(), s.cfg.MaxPerPage)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if s.store.get(id) == nil {
		writeError(w, http.StatusNotFound, "inexistent_user", msgUserMissing)
		return
	}
	s.cat.mu.RLock()
	var out []*role
	for _, ro := range s.cat.roles {
		if ro.users[id] {
			out = append(out, ro)
		}
	}
	s.cat.mu.RUnlock()
	writePage(w, pg, "roles", out)
}

func (s *Server) handleListResourceServers(w http.ResponseWriter, r *http.Request) {
	pg, ok := parsePaging(w, r.URL.Query(), s.cfg.MaxPerPage)
	if !ok {
		return
	}
	s.cat.mu.RLock()
	out := make([]resourceServer, len(s.cat.servers))
	for k, rs := range s.cat.servers {
		out[k] = *rs
		out[k].Scopes = slices.Clone(rs.Scopes)
	}
	s.cat.mu.RUnlock()
	writePage(w, pg, "resource_servers", out)
}

func (s *Server) handleGetResourceServer(w http.ResponseWriter, r *http.Request) {
	s.cat.mu.RLock()
	defer s.cat.mu.RUnlock()
	rs := s.cat.server(r.PathValue("id"))
	if rs == nil {
		writeError(w, http.StatusNotFound, "inexistent_resource_server", "The resource server does not exist")
		return
	}
	writeJSON(w, http.StatusOK, rs)
}

func validScopes(w http.ResponseWriter, scopes []scope) bool {
	seen := map[string]bool{}
	for _, sc := range scopes {
		if sc.Value == "" || strings.ContainsAny(sc.Value, " \t\n") || len(sc.Value) > 280 {
			badBody(w, "Payload validation error: invalid scope value "+strconv.Quote(sc.Value)+" on property scopes.")
			return false
		}
		if seen[sc.Value] {
			badBody(w, "Payload validation error: duplicate scope "+strconv.Quote(sc.Value)+" on property scopes.")
			return false
		}
		seen[sc.Value] = true
	}
	return true
}

func (s *Server) handleCreateResourceServer(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name       string  `json:"name"`
		Identifier string  `json:"identifier"`
		Scopes     []scope `json:"scopes"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Identifier == "" {
		badBody(w, "Payload validation error: 'Missing required property: identifier'.")
		return
	}
	if !validScopes(w, body.Scopes) {
		return
	}
	s.cat.mu.Lock()
	defer s.cat.mu.Unlock()
	if s.cat.server(body.Identifier) != nil {
		writeError(w, http.StatusConflict, "conflict", "A resource server with the same identifier already exists")
		return
	}
	if body.Name == "" {
		body.Name = body.Identifier
	}
	rs := &resourceServer{ID: s.randomHex(24), Name: body.Name, Identifier: body.Identifier,
		Scopes: append([]scope{}, body.Scopes...), SigningAlg: "RS256", TokenLife: 86400}
	s.cat.servers = append(s.cat.servers, rs)
	writeJSON(w, http.StatusCreated, rs)
}

// handleUpdateResourceServer serves PATCH /api/v2/resource-servers/{id}; "scopes", when
// present, replaces the whole list (read, union, then write to add one).
func (s *Server) handleUpdateResourceServer(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name   *string  `json:"name"`
		Scopes *[]scope `json:"scopes"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Scopes != nil && !validScopes(w, *body.Scopes) {
		return
	}
	s.cat.mu.Lock()
	defer s.cat.mu.Unlock()
	rs := s.cat.server(r.PathValue("id"))
	if rs == nil {
		writeError(w, http.StatusNotFound, "inexistent_resource_server", "The resource server does not exist")
		return
	}
	if rs.IsSystem {
		writeError(w, http.StatusForbidden, "operation_not_supported", "You cannot update the system resource server.")
		return
	}
	if body.Name != nil {
		rs.Name = *body.Name
	}
	if body.Scopes != nil {
		rs.Scopes = append([]scope{}, (*body.Scopes)...)
	}
	writeJSON(w, http.StatusOK, rs)
}
