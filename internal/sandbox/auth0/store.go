package auth0

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/encoding/json"
)

// user is one stored profile. A user is immutable once stored: an update stores a new
// *user, so a snapshot (an export job) can hold pointers without copying.
type user struct {
	id         string
	email      string // lowercased: Auth0 compares emails case-insensitively
	username   string
	connection string // identities[0].connection
	created    int64  // UNIX ms
	updated    int64
	lastLogin  int64
	// raw is the profile as GET /api/v2/users/{id} returns it. It never holds secrets.
	raw []byte
	// Secrets live beside the profile, never in raw: no endpoint and no export returns them.
	passwordHash string
	mfaFactors   json.RawMessage
}

// indexed holds the fields the store indexes, decoded from a raw profile.
type indexed struct {
	UserID     string `json:"user_id"`
	Email      string `json:"email"`
	Username   string `json:"username"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
	LastLogin  string `json:"last_login"`
	Identities []struct {
		Connection string `json:"connection"`
	} `json:"identities"`
	AppMetadata struct {
		Roles json.RawMessage `json:"roles"`
	} `json:"app_metadata"`
}

func parseTime(s string) int64 {
	if s == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0
	}
	return t.UnixMilli()
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newUser indexes a raw profile. It also returns the role names in app_metadata.roles, which
// seeding turns into role assignments.
func newUser(raw []byte) (*user, []string, error) {
	var ix indexed
	if err := json.Unmarshal(raw, &ix); err != nil {
		return nil, nil, err
	}
	u := &user{
		id: ix.UserID, email: strings.ToLower(ix.Email), username: ix.Username,
		created: parseTime(ix.CreatedAt), updated: parseTime(ix.UpdatedAt),
		lastLogin: parseTime(ix.LastLogin), raw: raw,
	}
	if len(ix.Identities) > 0 {
		u.connection = ix.Identities[0].Connection
	}
	var roles []string
	_ = json.Unmarshal(ix.AppMetadata.Roles, &roles) // not a list of strings: no roles
	return u, roles, nil
}

// store holds the users of the tenant. One RWMutex: reads (listing, search) dominate, and
// every mutation keeps the sorted view current before releasing the lock.
type store struct {
	mu      sync.RWMutex
	byID    map[string]*user
	byEmail map[string][]*user
	// byUsername maps connection + "\x00" + username to the user id: usernames are unique
	// per connection.
	byUsername map[string]string
	sorted     []*user // by (created, id)
}

func newStore() *store {
	return &store{byID: map[string]*user{}, byEmail: map[string][]*user{}, byUsername: map[string]string{}}
}

func byCreated(a, b *user) int {
	if c := cmp.Compare(a.created, b.created); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// putLocked inserts or replaces u; callers hold mu and call resortLocked when done.
func (s *store) putLocked(u *user) {
	if old, ok := s.byID[u.id]; ok {
		s.unindexLocked(old)
	}
	s.byID[u.id] = u
	if u.email != "" {
		s.byEmail[u.email] = append(s.byEmail[u.email], u)
	}
	if u.username != "" {
		s.byUsername[u.connection+"\x00"+u.username] = u.id
	}
}

func (s *store) unindexLocked(u *user) {
	s.dropEmailLocked(u)
	if k := u.connection + "\x00" + u.username; u.username != "" && s.byUsername[k] == u.id {
		delete(s.byUsername, k)
	}
}

func (s *store) dropEmailLocked(u *user) {
	list := s.byEmail[u.email]
	for k, v := range list {
		if v.id == u.id {
			list = slices.Delete(list, k, k+1)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byEmail, u.email)
	} else {
		s.byEmail[u.email] = list
	}
}

func (s *store) resortLocked() {
	s.sorted = s.sorted[:0]
	for _, u := range s.byID {
		s.sorted = append(s.sorted, u)
	}
	slices.SortFunc(s.sorted, byCreated)
}

func (s *store) get(id string) *user {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

func (s *store) delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	s.unindexLocked(u)
	k, found := slices.BinarySearchFunc(s.sorted, u, byCreated)
	if found {
		s.sorted = slices.Delete(s.sorted, k, k+1)
	}
	return true
}

func (s *store) byEmailAddr(email string) []*user {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.byEmail[strings.ToLower(email)])
}

// snapshot returns the users in created_at order; the slice is the caller's.
func (s *store) snapshot() []*user {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.sorted)
}

func (s *store) count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}
