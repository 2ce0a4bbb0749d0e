package transform

import (
	"strconv"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// App ID user profiles as GET /management/v4/{tenant}/users/export returns them, and as
// POST /users/import takes them (the same item shape):
//
//	{id, name, email, picture, identities:[{provider, id, idpUserInfo}], attributes, roles:["name"]}
//
// Mapping (App ID -> SCIM):
//
//	id          externalId, ferry sourceId
//	email | id  userName (first present)
//	email       emails[0] {value, primary:true}
//	name        displayName and name.formatted
//	picture     photos[0] {value, type:"photo"}
//	identities  ferry identities, verbatim: providers nest profile data differently (a
//	            Facebook picture is idpUserInfo.picture.data.url); identities[0].provider
//	            -> ferry connection
//	attributes  ferry attributes (custom profile attributes, raw)
//	roles       roles[].value
//	anything else, and null or "" values   ferry extra, verbatim
//
// An appid -> SCIM -> appid round trip gives back an equal record.

func init() {
	RegisterDecoder(core.FormatAppID, recordMapper(mapAppID))
	RegisterEncoder(core.FormatAppID, EncoderFunc(encodeAppID))
}

var (
	appIDKeys         = []string{"id", "name", "email", "picture", "identities", "attributes", "roles"}
	appIDIdentityKeys = []string{"provider", "id", "idpUserInfo"}
)

// decodeAppID is the registered decoder's Decode: it checks the record first.
var decodeAppID = recordMapper(mapAppID).Decode

func mapAppID(obj []byte) (*schemas.User, error) {
	var err error
	u := new(schemas.User)
	f := &schemas.FerryUser{Provider: core.FormatAppID}
	u.Ferry = f
	var extra extraBuilder
	m := newMembers(obj, "")
	for m.next() {
		v := m.Val
		if isAbsent(v) {
			extra.add(m.RawKey, v)
			continue
		}
		key := intern(m.Key, appIDKeys)
		var ok bool
		switch key {
		case "id", "name", "email", "picture":
			var s string
			s, ok, err = str(v, key)
			if err != nil || !ok {
				break
			}
			switch key {
			case "id":
				u.ExternalID, f.SourceID = s, s
			case "name":
				u.DisplayName = s
				u.Name = &schemas.Name{Formatted: s}
			case "email":
				u.Emails = []schemas.MultiValued{{Value: s, Primary: true}}
			case "picture":
				u.Photos = []schemas.MultiValued{{Value: s, Type: "photo"}}
			}
		case "identities":
			f.Identities, f.Connection, err = appIDIdentities(v)
			ok = len(f.Identities) > 0
		case "attributes":
			f.Attributes, err = rawObject(v, key)
			ok = true
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
	switch {
	case len(u.Emails) > 0:
		u.UserName = u.Emails[0].Value
	case f.SourceID != "":
		u.UserName = f.SourceID
	default:
		return nil, &FieldError{Field: "id", Msg: "missing: a user needs id or email"}
	}
	f.Extra = extra.bytes(false)
	u.EnsureSchemas()
	return u, nil
}

// appIDIdentities checks identities and keeps them verbatim. The id is a string in App ID's
// own examples; a number is accepted as in Auth0 and stays one.
func appIDIdentities(v []byte) ([]json.RawMessage, string, error) {
	if v[0] != '[' {
		return nil, "", typeErr("identities", "array", v)
	}
	var (
		out []json.RawMessage
		idp string
	)
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
			switch key := intern(m.Key, appIDIdentityKeys); key {
			case "provider":
				if v[0] != '"' {
					return nil, "", typeErr(m.pathOf(key), "string", v)
				}
				if e.N == 0 {
					s, err := unquote(v, m.pathOf(key))
					if err != nil {
						return nil, "", err
					}
					idp = s
				}
			case "id":
				if v[0] != '"' && jsonKind(v) != "number" {
					return nil, "", typeErr(m.pathOf(key), "string or number", v)
				}
			case "idpUserInfo":
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
	return out, idp, nil
}

// encodeAppID writes a users/import item. Identities are written as the user holds them:
// turning another provider's identities into App ID's shape is the identities policy's job.
func encodeAppID(dst []byte, u *schemas.User) ([]byte, error) {
	f := ferryOf(u)
	var w objWriter
	w.open(dst)
	w.str("id", sourceID(u))
	w.str("name", displayName(u))
	if i := primaryIndex(u.Emails); i >= 0 {
		w.str("email", u.Emails[i].Value)
	}
	if i := photoIndex(u.Photos); i >= 0 {
		w.str("picture", u.Photos[i].Value)
	}
	if err := writeIdentities(&w, f); err != nil {
		return dst, err
	}
	if len(f.Attributes) > 0 {
		if err := checkRaw(f.Attributes, pathAttributes, "object"); err != nil {
			return dst, err
		}
		w.raw("attributes", f.Attributes)
	}
	if len(u.Roles) > 0 {
		w.key("roles")
		w.b = appendRoleNames(w.b, u.Roles)
	}
	if err := w.extra(f.Extra, pathExtra); err != nil {
		return dst, err
	}
	return w.close(), nil
}

func writeIdentities(w *objWriter, f *schemas.FerryUser) error {
	if len(f.Identities) == 0 {
		return nil
	}
	w.key("identities")
	w.b = append(w.b, '[')
	for i, id := range f.Identities {
		if err := checkRaw(id, pathIdentities+"["+strconv.Itoa(i)+"]", "object"); err != nil {
			return err
		}
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, id...)
	}
	w.b = append(w.b, ']')
	return nil
}
