package appid

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

type app struct {
	ClientID          string   `json:"clientId"`
	TenantID          string   `json:"tenantId"`
	Secret            string   `json:"secret,omitempty"`
	Name              string   `json:"name"`
	OAuthServerURL    string   `json:"oAuthServerUrl"`
	ProfilesURL       string   `json:"profilesUrl"`
	DiscoveryEndpoint string   `json:"discoveryEndpoint"`
	Type              string   `json:"type"`
	scopes            []string // in the order set
}

type access struct {
	ApplicationID string   `json:"application_id"`
	Scopes        []string `json:"scopes"`
}

type role struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Access      []access `json:"access"`
}

// Errors a caller can branch on (the HTTP layer maps them to 400 / 404 / 409).
var (
	ErrLimit    = errors.New("limit reached")
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid input")
	ErrConflict = errors.New("already exists")
)

// scopeName is App ID's rule: lowercase alphanumerics, '.' and '_', fewer than 50
// characters, not starting with appid or openid.
var scopeName = regexp.MustCompile(`^[a-z0-9._]{1,49}$`)

func validScope(s string) error {
	if !scopeName.MatchString(s) {
		return fmt.Errorf("%w: scope %q must be 1-49 lowercase letters, digits, '.' or '_'", ErrInvalid, s)
	}
	if strings.HasPrefix(s, "appid") || strings.HasPrefix(s, "openid") {
		return fmt.Errorf("%w: scope %q must not start with appid or openid", ErrInvalid, s)
	}
	return nil
}

func status(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "NOT_FOUND"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "CONFLICT"
	case errors.Is(err, ErrLimit):
		return http.StatusBadRequest, "LIMIT_EXCEEDED"
	}
	return http.StatusBadRequest, "INVALID_INPUT"
}

func writeError(w http.ResponseWriter, err error) {
	st, code := status(err)
	writeErr(w, st, code, err.Error())
}

// AddApplication creates an application and sets its scopes.
func (s *Server) AddApplication(name, typ string, scopes ...string) (clientID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.addAppLocked(name, typ)
	if err != nil {
		return "", err
	}
	if err := s.setScopesLocked(a, scopes); err != nil {
		delete(s.apps, a.ClientID)
		s.appSeq = s.appSeq[:len(s.appSeq)-1]
		return "", err
	}
	return a.ClientID, nil
}

func (s *Server) addAppLocked(name, typ string) (*app, error) {
	if strings.TrimSpace(name) == "" || len(name) > 50 {
		return nil, fmt.Errorf("%w: application name must be 1-50 characters", ErrInvalid)
	}
	switch typ {
	case "":
		typ = "regularwebapp"
	case "regularwebapp", "singlepageapp":
	default:
		return nil, fmt.Errorf("%w: application type %q is not regularwebapp or singlepageapp", ErrInvalid, typ)
	}
	if len(s.apps) >= s.cfg.Limits.MaxApplications {
		return nil, fmt.Errorf("%w: an instance has at most %d applications", ErrLimit, s.cfg.Limits.MaxApplications)
	}
	base := "https://" + s.cfg.Region + ".appid.cloud.ibm.com/oauth/v4/" + s.cfg.TenantID
	a := &app{
		ClientID: newGUID(), TenantID: s.cfg.TenantID, Secret: randHex(24), Name: name, Type: typ,
		OAuthServerURL: base, ProfilesURL: "https://" + s.cfg.Region + ".appid.cloud.ibm.com",
		DiscoveryEndpoint: base + "/.well-known/openid-configuration",
	}
	s.apps[a.ClientID] = a
	s.appSeq = append(s.appSeq, a)
	return a, nil
}

// setScopesLocked replaces an application's scopes; scopes that go away are removed from
// every role that granted them (App ID does this, which is why clients must read, union,
// then write).
func (s *Server) setScopesLocked(a *app, scopes []string) error {
	if len(scopes) > s.cfg.Limits.MaxScopes {
		return fmt.Errorf("%w: an application has at most %d scopes", ErrLimit, s.cfg.Limits.MaxScopes)
	}
	seen := map[string]bool{}
	for _, sc := range scopes {
		if err := validScope(sc); err != nil {
			return err
		}
		if seen[sc] {
			return fmt.Errorf("%w: scope %q given twice", ErrInvalid, sc)
		}
		seen[sc] = true
	}
	a.scopes = append([]string(nil), scopes...)
	for _, r := range s.roleSeq {
		for i := range r.Access {
			if r.Access[i].ApplicationID != a.ClientID {
				continue
			}
			kept := r.Access[i].Scopes[:0]
			for _, sc := range r.Access[i].Scopes {
				if seen[sc] {
					kept = append(kept, sc)
				}
			}
			r.Access[i].Scopes = kept
		}
	}
	return nil
}

// AddRole creates a role; access maps application names to scopes.
func (s *Server) AddRole(name, description string, accessByApp map[string][]string) (id string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var acc []access
	names := make([]string, 0, len(accessByApp))
	for n := range accessByApp {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, appName := range names {
		scopes := accessByApp[appName]
		var found *app
		for _, a := range s.appSeq {
			if a.Name == appName {
				found = a
			}
		}
		if found == nil {
			return "", fmt.Errorf("%w: application %q", ErrNotFound, appName)
		}
		acc = append(acc, access{ApplicationID: found.ClientID, Scopes: scopes})
	}
	r, err := s.putRoleLocked(nil, role{Name: name, Description: description, Access: acc})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// putRoleLocked creates (cur nil) or replaces a role after checking it.
func (s *Server) putRoleLocked(cur *role, in role) (*role, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, fmt.Errorf("%w: role name is required", ErrInvalid)
	}
	for _, r := range s.roleSeq {
		if r.Name == in.Name && r != cur {
			return nil, fmt.Errorf("%w: role %q", ErrConflict, in.Name)
		}
	}
	if cur == nil && len(s.roles) >= s.cfg.Limits.MaxRoles {
		return nil, fmt.Errorf("%w: an instance has at most %d roles", ErrLimit, s.cfg.Limits.MaxRoles)
	}
	acc := make([]access, 0, len(in.Access))
	for _, a := range in.Access {
		ap, ok := s.apps[a.ApplicationID]
		if !ok {
			return nil, fmt.Errorf("%w: application %q", ErrNotFound, a.ApplicationID)
		}
		for _, sc := range a.Scopes {
			if !contains(ap.scopes, sc) {
				return nil, fmt.Errorf("%w: scope %q does not exist in application %q", ErrInvalid, sc, ap.Name)
			}
		}
		acc = append(acc, access{ApplicationID: a.ApplicationID, Scopes: append([]string{}, a.Scopes...)})
	}
	if cur == nil {
		cur = &role{ID: newGUID()}
		s.roles[cur.ID] = cur
		s.roleSeq = append(s.roleSeq, cur)
	}
	cur.Name, cur.Description, cur.Access = in.Name, in.Description, acc
	return cur, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func copyRole(r *role) role {
	c := *r
	c.Access = make([]access, len(r.Access))
	for i, a := range r.Access {
		c.Access[i] = access{ApplicationID: a.ApplicationID, Scopes: append([]string{}, a.Scopes...)}
	}
	return c
}

func (s *Server) handleRoles(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		s.mu.Lock()
		out := make([]role, len(s.roleSeq))
		for i, ro := range s.roleSeq {
			out[i] = copyRole(ro)
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"roles": out})
		return
	}
	var in role
	if !s.readJSON(w, r, &in) {
		return
	}
	s.mu.Lock()
	ro, err := s.putRoleLocked(nil, in)
	var out role
	if err == nil {
		out = copyRole(ro)
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleRole(w http.ResponseWriter, r *http.Request, id string) {
	var in role
	if r.Method == http.MethodPut && !s.readJSON(w, r, &in) {
		return
	}
	s.mu.Lock()
	ro, ok := s.roles[id]
	if !ok {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "role not found")
		return
	}
	switch r.Method {
	case http.MethodGet:
		out := copyRole(ro)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case http.MethodPut:
		_, err := s.putRoleLocked(ro, in)
		out := copyRole(ro)
		s.mu.Unlock()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		delete(s.roles, id)
		for i, x := range s.roleSeq {
			if x == ro {
				s.roleSeq = append(s.roleSeq[:i], s.roleSeq[i+1:]...)
				break
			}
		}
		for _, p := range s.order { // users lose the role
			p.roles = removeString(p.roles, id)
		}
		for _, c := range s.cdOrder {
			c.profile.roles = removeString(c.profile.roles, id)
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

func removeString(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func (s *Server) handleApps(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		s.mu.Lock()
		out := make([]app, len(s.appSeq))
		for i, a := range s.appSeq {
			out[i] = *a
			out[i].Secret = "" // listed without secrets: they never leave in bulk
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"applications": out})
		return
	}
	var in struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if !s.readJSON(w, r, &in) {
		return
	}
	s.mu.Lock()
	a, err := s.addAppLocked(in.Name, in.Type)
	var out app
	if err == nil {
		out = *a
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleApp(w http.ResponseWriter, clientID string) {
	s.mu.Lock()
	a, ok := s.apps[clientID]
	var out app
	if ok {
		out = *a
		out.Secret = ""
	}
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "application not found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleScopes(w http.ResponseWriter, r *http.Request, clientID string) {
	var in struct {
		Scopes *[]string `json:"scopes"`
	}
	if r.Method == http.MethodPut {
		if !s.readJSON(w, r, &in) {
			return
		}
		if in.Scopes == nil {
			writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "scopes is required")
			return
		}
	}
	s.mu.Lock()
	a, ok := s.apps[clientID]
	if !ok {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "application not found")
		return
	}
	var err error
	if r.Method == http.MethodPut {
		err = s.setScopesLocked(a, *in.Scopes)
	}
	out := append([]string{}, a.scopes...)
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scopes": out})
}
