package transform

import (
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonw"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// Auth0 users as GET /api/v2/users and the users-exports job return them, and as the
// users-imports file holds them (the import properties are a subset, plus password_hash,
// custom_password_hash and mfa_factors).
//
// Mapping (Auth0 -> SCIM):
//
//	user_id               externalId, ferry sourceId
//	username | email | user_id   userName (first present)
//	email                 emails[0] {value, primary:true} (no type: Auth0 gives none)
//	email_verified        ferry emailVerified (also from the strings "true"/"false")
//	phone_number          phoneNumbers[0].value;  phone_verified -> ferry phoneVerified
//	name                  displayName and name.formatted
//	given_name/family_name  name.givenName/familyName;  nickname -> nickName
//	picture               photos[0] {value, type:"photo"};  locale -> locale (social profiles)
//	blocked               active = !blocked
//	created_at/updated_at meta.created/lastModified
//	identities            ferry identities (verbatim); identities[0].connection -> ferry connection
//	app_metadata/user_metadata  ferry appMetadata/userMetadata (raw)
//	roles (role names ferry attached)  roles[].value
//	password_hash, custom_password_hash, mfa_factors (import files)  ferry fields
//	anything else, and null or "" values   ferry extra, verbatim
//
// The only difference an auth0 -> SCIM -> auth0 round trip may show is the normalisation of
// email_verified/phone_verified given as strings: they come back as JSON booleans.

func init() {
	RegisterDecoder(core.FormatAuth0, recordMapper(mapAuth0))
	RegisterDecoder(core.FormatAuth0Import, recordMapper(mapAuth0))
	RegisterEncoder(core.FormatAuth0, EncoderFunc(encodeAuth0))
}

var (
	ferryPath      = schemas.FerryUserURN + ":"
	pathExtra      = ferryPath + "extra"
	pathIdentities = ferryPath + "identities"
	pathAppMeta    = ferryPath + "appMetadata"
	pathUserMeta   = ferryPath + "userMetadata"
	pathAttributes = ferryPath + "attributes"
	pathCustomHash = ferryPath + "customPasswordHash"
	pathMFA        = ferryPath + "mfaFactors"
	pathHash       = ferryPath + "passwordHash"
)

var auth0Keys = []string{"user_id", "email", "username", "phone_number", "name", "given_name",
	"family_name", "nickname", "picture", "locale", "password_hash", "email_verified",
	"phone_verified", "blocked", "created_at", "updated_at", "identities", "app_metadata",
	"user_metadata", "custom_password_hash", "mfa_factors", "roles"}

var auth0IdentityKeys = []string{"connection", "provider", "access_token", "refresh_token",
	"user_id", "isSocial", "profileData"}

// auth0User is everything a decoded Auth0 user points to, allocated as one object: a
// typical record fills most of it, and the file -> file benchmark went from 57 to 47
// allocations a user (with the extra builder's first size).
type auth0User struct {
	u                   schemas.User
	f                   schemas.FerryUser
	meta                schemas.Meta
	name                schemas.Name
	email, phone, photo [1]schemas.MultiValued
	active, ev, pv      bool
	identities          [1]json.RawMessage
}

// decodeAuth0 is the registered decoder's Decode: it checks the record first.
var decodeAuth0 = recordMapper(mapAuth0).Decode

func mapAuth0(obj []byte) (*schemas.User, error) {
	var err error
	a := new(auth0User)
	u, f := &a.u, &a.f
	f.Provider = core.FormatAuth0
	u.Ferry = f
	var (
		extra          extraBuilder
		username       string
		usernameRawKey []byte
		usernameVal    []byte
		name           = &a.name
	)
	m := newMembers(obj, "")
	for m.next() {
		k, v := m.Key, m.Val
		if isAbsent(v) {
			extra.add(m.RawKey, v)
			continue
		}
		key := intern(k, auth0Keys)
		var ok bool
		switch key {
		case "user_id", "email", "username", "phone_number", "name", "given_name",
			"family_name", "nickname", "picture", "locale", "password_hash":
			var s string
			s, ok, err = str(v, key)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			switch key {
			case "user_id":
				u.ExternalID, f.SourceID = s, s
			case "email":
				a.email[0] = schemas.MultiValued{Value: s, Primary: true}
				u.Emails = a.email[:]
			case "username":
				username, usernameRawKey, usernameVal = s, m.RawKey, v
			case "phone_number":
				a.phone[0] = schemas.MultiValued{Value: s}
				u.PhoneNumbers = a.phone[:]
			case "name":
				u.DisplayName, name.Formatted = s, s
			case "given_name":
				name.GivenName = s
			case "family_name":
				name.FamilyName = s
			case "nickname":
				u.NickName = s
			case "picture":
				a.photo[0] = schemas.MultiValued{Value: s, Type: "photo"}
				u.Photos = a.photo[:]
			case "locale":
				u.Locale = s
			case "password_hash":
				f.PasswordHash, f.PasswordHashAlg = s, "bcrypt"
			}
		case "email_verified", "phone_verified":
			b, err := boolish(v, key, true)
			if err != nil {
				return nil, err
			}
			if key == "email_verified" {
				a.ev = b
				f.EmailVerified = &a.ev
			} else {
				a.pv = b
				f.PhoneVerified = &a.pv
			}
			ok = true
		case "blocked":
			b, err := boolish(v, key, false)
			if err != nil {
				return nil, err
			}
			a.active = !b
			u.Active, ok = &a.active, true
		case "created_at", "updated_at":
			s, err := timestamp(v, key)
			if err != nil {
				return nil, err
			}
			if u.Meta == nil {
				a.meta.ResourceType = "User"
				u.Meta = &a.meta
			}
			if key == "created_at" {
				u.Meta.Created = s
			} else {
				u.Meta.LastModified = s
			}
			ok = true
		case "identities":
			f.Identities, f.Connection, err = auth0Identities(v, a.identities[:0])
			if err != nil {
				return nil, err
			}
			ok = len(f.Identities) > 0
			if !ok {
				f.Identities = nil
			}
		case "app_metadata":
			f.AppMetadata, err = rawObject(v, key)
			ok = true
		case "user_metadata":
			f.UserMetadata, err = rawObject(v, key)
			ok = true
		case "custom_password_hash":
			f.CustomPasswordHash, err = rawObject(v, key)
			ok = true
		case "mfa_factors":
			if v[0] != '[' {
				return nil, typeErr(key, "array", v)
			}
			f.MFAFactors, ok = json.RawMessage(v), true
		case "roles":
			u.Roles, err = stringList(v, key)
			ok = len(u.Roles) > 0
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			extra.add(m.RawKey, v)
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if *name != (schemas.Name{}) {
		u.Name = name
	}
	email := u.PrimaryEmail()
	switch {
	case username != "":
		u.UserName = username
		// The encoder leaves username out when it equals the email or user_id (it was
		// derived); keep such a username verbatim so that it still comes back.
		if username == email || username == f.SourceID {
			extra.add(usernameRawKey, usernameVal)
		}
	case email != "":
		u.UserName = email
	case f.SourceID != "":
		u.UserName = f.SourceID
	default:
		return nil, &FieldError{Field: "user_id", Msg: "missing: a user needs user_id, username or email"}
	}
	f.Extra = extra.bytes(false)
	u.EnsureSchemas()
	return u, nil
}

// timestamp reads an RFC 3339 date-time, kept as written (SCIM DateTime is xsd:dateTime).
func timestamp(v []byte, path string) (string, error) {
	s, err := unquote(v, path)
	if err != nil {
		return "", err
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return "", &FieldError{Field: path, Msg: "not an RFC 3339 date-time"}
	}
	return s, nil
}

// auth0Identities checks the identities array and keeps its elements verbatim. user_id may
// be a number (seen for some social connections); it stays one.
func auth0Identities(v []byte, out []json.RawMessage) ([]json.RawMessage, string, error) {
	if v[0] != '[' {
		return nil, "", typeErr("identities", "array", v)
	}
	var conn string
	for e := newElements(v); e.next(); {
		if e.Val[0] != '{' {
			return nil, "", typeErr(elemPath("identities", e.N), "object", e.Val)
		}
		m := newMembersAt(e.Val, "identities", e.N)
		for m.next() {
			v := m.Val
			if isNull(v) {
				continue
			}
			key := intern(m.Key, auth0IdentityKeys)
			switch key {
			case "connection", "provider", "access_token", "refresh_token":
				if v[0] != '"' {
					return nil, "", typeErr(m.pathOf(key), "string", v)
				}
				if key == "connection" && e.N == 0 {
					s, err := unquote(v, m.pathOf(key))
					if err != nil {
						return nil, "", err
					}
					conn = s
				}
			case "user_id":
				if v[0] != '"' && jsonKind(v) != "number" {
					return nil, "", typeErr(m.pathOf(key), "string or number", v)
				}
			case "isSocial":
				if v[0] != 't' && v[0] != 'f' {
					return nil, "", typeErr(m.pathOf(key), "boolean", v)
				}
			case "profileData":
				if v[0] != '{' {
					return nil, "", typeErr(m.pathOf(key), "object", v)
				}
			}
		}
		if m.err != nil {
			return nil, "", m.err
		}
		out = append(out, json.RawMessage(e.Val))
	}
	return out, conn, nil
}

// sourceID is the user's id in its source tenant.
func sourceID(u *schemas.User) string {
	if u.Ferry != nil && u.Ferry.SourceID != "" {
		return u.Ferry.SourceID
	}
	return u.ExternalID
}

// auth0Username is the username to write, or "" when userName was derived from the email
// or the user id (Auth0 rejects a username on connections that do not use one).
func auth0Username(u *schemas.User) string {
	if u.UserName == "" || u.UserName == u.PrimaryEmail() || u.UserName == sourceID(u) {
		return ""
	}
	return u.UserName
}

func primaryIndex(mv []schemas.MultiValued) int {
	for i, v := range mv {
		if v.Primary {
			return i
		}
	}
	if len(mv) > 0 {
		return 0
	}
	return -1
}

// photoIndex picks the picture: the primary photo, else the first of type photo, else the
// first.
func photoIndex(p []schemas.MultiValued) int {
	for i, v := range p {
		if v.Primary {
			return i
		}
	}
	for i, v := range p {
		if v.Type == "photo" {
			return i
		}
	}
	if len(p) > 0 {
		return 0
	}
	return -1
}

func displayName(u *schemas.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if u.Name != nil {
		return u.Name.Formatted
	}
	return ""
}

func ferryOf(u *schemas.User) *schemas.FerryUser {
	if u.Ferry != nil {
		return u.Ferry
	}
	return &schemas.FerryUser{}
}

// auth0Common writes the members the API shape and the import item share.
func auth0Common(w *objWriter, u *schemas.User, userID string) error {
	f := ferryOf(u)
	w.str("user_id", userID)
	if i := primaryIndex(u.Emails); i >= 0 {
		w.str("email", u.Emails[i].Value)
	}
	if f.EmailVerified != nil {
		w.boolean("email_verified", *f.EmailVerified)
	}
	w.str("username", auth0Username(u))
	if i := primaryIndex(u.PhoneNumbers); i >= 0 {
		w.str("phone_number", u.PhoneNumbers[i].Value)
	}
	if f.PhoneVerified != nil {
		w.boolean("phone_verified", *f.PhoneVerified)
	}
	w.str("name", displayName(u))
	if u.Name != nil {
		w.str("given_name", u.Name.GivenName)
		w.str("family_name", u.Name.FamilyName)
	}
	w.str("nickname", u.NickName)
	if i := photoIndex(u.Photos); i >= 0 {
		w.str("picture", u.Photos[i].Value)
	}
	if u.Active != nil {
		w.boolean("blocked", !*u.Active)
	}
	if len(f.AppMetadata) > 0 {
		if err := checkRaw(f.AppMetadata, pathAppMeta, "object"); err != nil {
			return err
		}
		w.raw("app_metadata", f.AppMetadata)
	}
	if len(f.UserMetadata) > 0 {
		if err := checkRaw(f.UserMetadata, pathUserMeta, "object"); err != nil {
			return err
		}
		w.raw("user_metadata", f.UserMetadata)
	}
	if len(f.MFAFactors) > 0 {
		if err := checkRaw(f.MFAFactors, pathMFA, "array"); err != nil {
			return err
		}
		w.raw("mfa_factors", f.MFAFactors)
	}
	return nil
}

// encodeAuth0 writes the API/export shape: the backup format of an Auth0 tenant.
func encodeAuth0(dst []byte, u *schemas.User) ([]byte, error) {
	var w objWriter
	w.open(dst)
	if err := auth0Common(&w, u, sourceID(u)); err != nil {
		return dst, err
	}
	f := ferryOf(u)
	w.str("locale", u.Locale)
	if u.Meta != nil {
		w.str("created_at", u.Meta.Created)
		w.str("updated_at", u.Meta.LastModified)
	}
	if err := writeIdentities(&w, f); err != nil {
		return dst, err
	}
	if len(u.Roles) > 0 {
		w.key("roles")
		w.b = appendRoleNames(w.b, u.Roles)
	}
	// Both hashes are written if a user has both: this shape is a backup, not an import.
	if f.PasswordHash != "" && isBcryptAlg(f.PasswordHashAlg) {
		w.str("password_hash", f.PasswordHash)
	}
	if len(f.CustomPasswordHash) > 0 {
		if err := checkRaw(f.CustomPasswordHash, pathCustomHash, "object"); err != nil {
			return dst, err
		}
		w.raw("custom_password_hash", f.CustomPasswordHash)
	}
	if err := w.extra(f.Extra, pathExtra); err != nil {
		return dst, err
	}
	return w.close(), nil
}

func appendRoleNames(b []byte, roles []schemas.MultiValued) []byte {
	b = append(b, '[')
	for i, r := range roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, r.Value)
	}
	return append(b, ']')
}

func isBcryptAlg(alg string) bool { return alg == "" || strings.EqualFold(alg, "bcrypt") }
