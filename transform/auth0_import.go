package transform

import (
	"strconv"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

// The Auth0 bulk-import item (POST /api/v2/jobs/users-imports, the "users" file). Its
// schema has additionalProperties:false and requires email, so the encoder writes exactly
// the properties it allows; what it cannot carry is listed by Auth0ImportLosses for the
// change log rather than dropped in silence.

func init() {
	RegisterEncoder(core.FormatAuth0Import, EncoderFunc(encodeAuth0Import))
}

func encodeAuth0Import(dst []byte, u *schemas.User) ([]byte, error) {
	if u.PrimaryEmail() == "" {
		return dst, &FieldError{Field: "emails", Msg: "missing: an Auth0 import item requires an email"}
	}
	f := ferryOf(u)
	var w objWriter
	w.open(dst)
	if err := auth0Common(&w, u, importUserID(sourceID(u))); err != nil {
		return dst, err
	}
	if !w.wrote([]byte("username")) {
		// A username equal to the email or the user id travels in Extra (see decodeAuth0).
		if v, ok := lookup(f.Extra, "username"); ok && len(v) > 2 && v[0] == '"' {
			w.raw("username", v)
		}
	}
	// password_hash and custom_password_hash are mutually exclusive in the import schema.
	if importableBcrypt(f) {
		w.str("password_hash", f.PasswordHash)
	} else if len(f.CustomPasswordHash) > 0 {
		if err := checkRaw(f.CustomPasswordHash, pathCustomHash, "object"); err != nil {
			return dst, err
		}
		w.raw("custom_password_hash", f.CustomPasswordHash)
	}
	return w.close(), nil
}

// importUserID drops the "provider|" prefix: the import prepends its own connection's
// strategy ("auth0|"). Only the first segment goes: the rest of an id may contain "|".
func importUserID(id string) string {
	if i := strings.IndexByte(id, '|'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// importableBcrypt reports whether the hash is one the import's password_hash accepts.
func importableBcrypt(f *schemas.FerryUser) bool {
	if f.PasswordHash == "" || !isBcryptAlg(f.PasswordHashAlg) {
		return false
	}
	h := f.PasswordHash
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// Auth0ImportLosses lists the SCIM and ferry attribute paths of u that an Auth0 bulk-import
// item cannot carry (encodeAuth0Import leaves them out). The pipeline records each as a
// change. "roles" is listed because the import cannot assign roles: a sink that assigns
// them after the import may drop that entry. Paths name attributes only, never values.
func Auth0ImportLosses(u *schemas.User) []string { return auth0Losses(u, true) }

// Auth0Losses is Auth0ImportLosses for the API/export shape (format "auth0"), which also
// carries meta dates, identities, role names and every provider field in Extra.
func Auth0Losses(u *schemas.User) []string { return auth0Losses(u, false) }

func auth0Losses(u *schemas.User, importItem bool) []string {
	var out []string
	add := func(cond bool, p string) {
		if cond {
			out = append(out, p)
		}
	}
	f := ferryOf(u)
	add(u.ID != "", "id")
	add(u.ExternalID != "" && u.ExternalID != sourceID(u), "externalId")
	if u.Meta != nil {
		add(importItem && u.Meta.Created != "", "meta.created")
		add(importItem && u.Meta.LastModified != "", "meta.lastModified")
		add(u.Meta.Location != "", "meta.location")
		add(u.Meta.Version != "", "meta.version")
	}
	if n := u.Name; n != nil {
		add(n.Formatted != "" && n.Formatted != displayName(u), "name.formatted")
		add(n.MiddleName != "", "name.middleName")
		add(n.HonorificPrefix != "", "name.honorificPrefix")
		add(n.HonorificSuffix != "", "name.honorificSuffix")
	}
	add(u.ProfileURL != "", "profileUrl")
	add(u.Title != "", "title")
	add(u.UserType != "", "userType")
	add(u.PreferredLanguage != "", "preferredLanguage")
	add(importItem && u.Locale != "", "locale")
	add(u.Timezone != "", "timezone")
	add(u.Password != "", "password")
	out = multiLosses(out, "emails", u.Emails, primaryIndex(u.Emails), "")
	out = multiLosses(out, "phoneNumbers", u.PhoneNumbers, primaryIndex(u.PhoneNumbers), "")
	out = multiLosses(out, "photos", u.Photos, photoIndex(u.Photos), "photo")
	add(len(u.IMs) > 0, "ims")
	add(len(u.Addresses) > 0, "addresses")
	add(len(u.Groups) > 0, "groups")
	add(len(u.Entitlements) > 0, "entitlements")
	add(len(u.X509Certificates) > 0, "x509Certificates")
	if importItem {
		add(len(u.Roles) > 0, "roles")
	} else {
		for i, r := range u.Roles {
			add(r.Display != "" || r.Type != "" || r.Ref != "" || r.Primary, "roles["+strconv.Itoa(i)+"]")
		}
	}
	add(u.Enterprise != nil, schemas.EnterpriseUserURN)
	out = extensionLosses(out, u)

	add(len(f.Attributes) > 0, pathAttributes)
	if importItem {
		add(len(f.Identities) > 0, pathIdentities)
		if f.PasswordHash != "" {
			add(!importableBcrypt(f), pathHash)
			add(importableBcrypt(f) && len(f.CustomPasswordHash) > 0, pathCustomHash)
		}
		if len(f.Extra) > 0 {
			for m := newMembers(f.Extra, ""); m.next(); {
				if string(m.Key) == "username" && auth0Username(u) == "" {
					continue // carried as username
				}
				out = append(out, pathExtra+"."+string(m.Key))
			}
		}
	} else {
		add(f.PasswordHash != "" && !isBcryptAlg(f.PasswordHashAlg), pathHash)
	}
	return out
}

// multiLosses lists the values of a multi-valued attribute that a single Auth0 field
// cannot hold: every entry but the chosen one, and the chosen one's sub-attributes other
// than value (and primary, and the type the mapping implies).
func multiLosses(out []string, attr string, mv []schemas.MultiValued, chosen int, impliedType string) []string {
	for i, v := range mv {
		p := attr + "[" + strconv.Itoa(i) + "]"
		if i != chosen {
			out = append(out, p)
			continue
		}
		if v.Type != "" && v.Type != impliedType {
			out = append(out, p+".type")
		}
		if v.Display != "" {
			out = append(out, p+".display")
		}
		if v.Ref != "" {
			out = append(out, p+".$ref")
		}
	}
	return out
}
