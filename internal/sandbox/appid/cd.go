package appid

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// cdUser is a Cloud Directory user. The password hash is kept as the instance holds it;
// exports hand it out encrypted with the caller's encryption_secret, and imports decrypt it
// with theirs, so a migration works only when both sides use the same secret.
type cdUser struct {
	id           string
	scimUser     map[string]any
	passwordHash string
	hashAlg      string
	key          string // lower-cased identity (email or userName)
	// profile is the user's App ID profile: its attributes and roles (cd_users.go).
	profile           *profile
	created, modified string // meta timestamps
}

type cdItem struct {
	ScimUser        map[string]any `json:"scimUser"`
	PasswordHash    string         `json:"passwordHash,omitempty"`
	PasswordHashAlg string         `json:"passwordHashAlg,omitempty"`
	Profile         *struct {
		Attributes json.RawMessage `json:"attributes"`
	} `json:"profile,omitempty"`
	Roles []string `json:"roles"`
}

var errDecrypt = errors.New("passwordHash cannot be decrypted with this encryption_secret")

func secretKey(secret string) []byte {
	k := sha256.Sum256([]byte("appid-cd-export\x00" + secret))
	return k[:]
}

func encryptHash(secret, hash string) string {
	block, _ := aes.NewCipher(secretKey(secret))
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(hash), nil))
}

func decryptHash(secret, enc string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", errDecrypt
	}
	block, _ := aes.NewCipher(secretKey(secret))
	gcm, _ := cipher.NewGCM(block)
	if len(b) < gcm.NonceSize() {
		return "", errDecrypt
	}
	plain, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], nil)
	if err != nil {
		return "", errDecrypt
	}
	return string(plain), nil
}

// identityKey is what makes a Cloud Directory user unique: its primary (or first) email,
// else its userName.
func identityKey(u map[string]any) string {
	if es, ok := u["emails"].([]any); ok {
		first := ""
		for _, e := range es {
			m, _ := e.(map[string]any)
			v, _ := m["value"].(string)
			if first == "" {
				first = v
			}
			if m["primary"] == true && v != "" {
				return strings.ToLower(v)
			}
		}
		if first != "" {
			return strings.ToLower(first)
		}
	}
	un, _ := u["userName"].(string)
	return strings.ToLower(un)
}

// importCD adds Cloud Directory users. clear says passwordHash is not encrypted (seeds).
func (s *Server) importCD(items []json.RawMessage, secret string, clear bool) ImportResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := ImportResult{FailReasons: []FailReason{}}
	var cur map[string]any // the scimUser being imported, for the fail reason
	fail := func(orig, format string, args ...any) {
		res.Failed++
		fr := FailReason{OriginalID: orig, Error: fmt.Sprintf(format, args...)}
		fr.ID, _ = cur["id"].(string)
		fr.UserName, _ = cur["userName"].(string)
		if es, ok := cur["emails"].([]any); ok && len(es) > 0 {
			m, _ := es[0].(map[string]any)
			fr.Email, _ = m["value"].(string)
		}
		res.FailReasons = append(res.FailReasons, fr)
	}
	batch := map[string]bool{}
	for i, raw := range items {
		var it cdItem
		cur = nil
		if err := json.Unmarshal(raw, &it); err != nil {
			fail("", "user %d is not a valid Cloud Directory user: %v", i, err)
			continue
		}
		if it.ScimUser == nil {
			fail("", "user %d has no scimUser", i)
			continue
		}
		cur = it.ScimUser
		orig, _ := it.ScimUser["originalId"].(string)
		if orig == "" {
			orig, _ = it.ScimUser["id"].(string)
		}
		key := identityKey(it.ScimUser)
		if key == "" {
			fail(orig, "scimUser needs an email or a userName")
			continue
		}
		if _, taken := s.cdIndex[key]; taken || batch[key] {
			fail(orig, "user already exists")
			continue
		}
		hash := it.PasswordHash
		if hash != "" {
			if it.PasswordHashAlg == "" {
				fail(orig, "passwordHashAlg is required with passwordHash")
				continue
			}
			if !clear {
				h, err := decryptHash(secret, hash)
				if err != nil {
					fail(orig, "%v", err)
					continue
				}
				hash = h
			}
		}
		var attrs json.RawMessage
		if it.Profile != nil && len(it.Profile.Attributes) > 0 && string(it.Profile.Attributes) != "null" {
			if it.Profile.Attributes[0] != '{' {
				fail(orig, "profile.attributes must be an object")
				continue
			}
			attrs = it.Profile.Attributes
		}
		roleIDs, err := s.roleIDsLocked(it.Roles)
		if err != nil {
			fail(orig, "%v", err)
			continue
		}
		if len(s.profiles)+len(s.cd) >= s.cfg.Limits.MaxUsers {
			fail(orig, "the instance has reached its limit of %d users", s.cfg.Limits.MaxUsers)
			continue
		}
		now := s.clk.Now().UTC().Format(time.RFC3339Nano)
		u := &cdUser{id: newGUID(), scimUser: it.ScimUser, passwordHash: hash, hashAlg: it.PasswordHashAlg,
			key: key, created: now, modified: now}
		delete(u.scimUser, "originalId")
		u.scimUser["id"] = u.id
		s.cd[u.id] = u
		s.cdOrder = append(s.cdOrder, u)
		s.cdIndex[key] = u.id
		s.newCDProfileLocked(u, attrs, roleIDs)
		batch[key] = true
		res.Added++
	}
	return res
}

func (s *Server) handleCDExport(w http.ResponseWriter, r *http.Request) {
	secret := r.URL.Query().Get("encryption_secret")
	if secret == "" {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "encryption_secret is required")
		return
	}
	max := s.cfg.Limits.CDPerRequest
	start, count, err := paging(r, max, max)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", err.Error())
		return
	}
	s.mu.Lock()
	lo, hi := window(len(s.cdOrder), start, count)
	users := make([]map[string]any, 0, hi-lo)
	for _, u := range s.cdOrder[lo:hi] {
		item := map[string]any{
			"scimUser": u.scimUser,
			"profile":  map[string]any{"attributes": orEmpty(u.profile.attributes)},
			"roles":    s.roleNamesLocked(u.profile.roles),
		}
		if u.passwordHash != "" {
			item["passwordHash"] = encryptHash(secret, u.passwordHash)
			item["passwordHashAlg"] = u.hashAlg
		}
		b, _ := json.Marshal(item) // copy out under the lock
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		users = append(users, m)
	}
	total := len(s.cdOrder)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"itemsPerPage": len(users), "totalResults": total,
		"requestOptions": map[string]int{"startIndex": start, "count": count},
		"users":          users,
	})
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return raw
}

func (s *Server) handleCDImport(w http.ResponseWriter, r *http.Request) {
	secret := r.URL.Query().Get("encryption_secret")
	if secret == "" {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "encryption_secret is required")
		return
	}
	var body struct {
		Users *[]json.RawMessage `json:"users"`
	}
	if !s.readJSON(w, r, &body) {
		return
	}
	if body.Users == nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "users is required")
		return
	}
	if n := len(*body.Users); n > s.cfg.Limits.CDPerRequest {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT",
			fmt.Sprintf("%d users in one request: the limit is %d", n, s.cfg.Limits.CDPerRequest))
		return
	}
	writeJSON(w, http.StatusOK, s.importCD(*body.Users, secret, false))
}
