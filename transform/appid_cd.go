package transform

import (
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonw"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// App ID Cloud Directory users as GET /cloud_directory/export returns them and
// POST /cloud_directory/import takes them:
//
//	{scimUser:{originalId, userName?, name, displayName, active, emails, ..., status,
//	 passwordHistory, ...}, passwordHash, passwordHashAlg, profile:{attributes}, roles:["name"]}
//
// scimUser is a SCIM user: its SCIM attributes map one to one (decoded strictly, so a
// sub-attribute ferry has no field for is a rejection naming it, not a silent drop). Its
// other members (originalId aside, which is the ferry sourceId) and its "schemas" stay
// verbatim in Extra under "scimUser"; profile members other than attributes under "profile".
// passwordHash/passwordHashAlg (PBKDF2WithHmacSHA512 in App ID's own exports) map to the
// ferry hash fields, profile.attributes to ferry attributes, roles to roles[].value.
//
// Round trip: appid-cd -> SCIM -> appid-cd gives back an equal record, with one exception:
// inside a scimUser attribute, sub-attributes that are null, "" or false (and empty
// arrays) read as unassigned, which RFC 7643 §2.5 makes equivalent, and come back absent.

func init() {
	RegisterDecoder(core.FormatAppIDCD, recordMapper(mapAppIDCD))
	RegisterEncoder(core.FormatAppIDCD, EncoderFunc(encodeAppIDCD))
}

// cdSCIMUser is scimUser: the SCIM User without schemas (kept verbatim) and with userName
// optional (email sign-up users have none).
type cdSCIMUser struct {
	ID         string        `json:"id,omitempty"`
	ExternalID string        `json:"externalId,omitempty"`
	Meta       *schemas.Meta `json:"meta,omitempty"`

	UserName          string        `json:"userName,omitempty"`
	Name              *schemas.Name `json:"name,omitempty"`
	DisplayName       string        `json:"displayName,omitempty"`
	NickName          string        `json:"nickName,omitempty"`
	ProfileURL        string        `json:"profileUrl,omitempty"`
	Title             string        `json:"title,omitempty"`
	UserType          string        `json:"userType,omitempty"`
	PreferredLanguage string        `json:"preferredLanguage,omitempty"`
	Locale            string        `json:"locale,omitempty"`
	Timezone          string        `json:"timezone,omitempty"`
	Active            *bool         `json:"active,omitempty"`
	Password          string        `json:"password,omitempty"`

	Emails           []schemas.MultiValued `json:"emails,omitempty"`
	PhoneNumbers     []schemas.MultiValued `json:"phoneNumbers,omitempty"`
	IMs              []schemas.MultiValued `json:"ims,omitempty"`
	Photos           []schemas.MultiValued `json:"photos,omitempty"`
	Addresses        []schemas.Address     `json:"addresses,omitempty"`
	Groups           []schemas.MultiValued `json:"groups,omitempty"`
	Entitlements     []schemas.MultiValued `json:"entitlements,omitempty"`
	X509Certificates []schemas.MultiValued `json:"x509Certificates,omitempty"`

	Enterprise *schemas.EnterpriseUser `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
}

// cdKnown lists the scimUser members decoded into cdSCIMUser. "roles" is not among them:
// App ID roles are the item's top-level role names; a SCIM roles attribute stays verbatim.
func cdKnown(k string) bool {
	switch k {
	case "id", "externalId", "meta", "userName", "name", "displayName", "nickName",
		"profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone",
		"active", "password", "emails", "phoneNumbers", "ims", "photos", "addresses",
		"groups", "entitlements", "x509Certificates", schemas.EnterpriseUserURN:
		return true
	}
	return false
}

func isEmptyValue(v []byte) bool {
	switch string(v) {
	case "null", `""`, "[]", "{}":
		return true
	}
	return false
}

var cdKeys = []string{"scimUser", "passwordHash", "passwordHashAlg", "profile", "roles"}

// decodeAppIDCD is the registered decoder's Decode: it checks the record first.
var decodeAppIDCD = recordMapper(mapAppIDCD).Decode

func mapAppIDCD(obj []byte) (*schemas.User, error) {
	var err error
	u := new(schemas.User)
	f := &schemas.FerryUser{Provider: core.FormatAppIDCD, Connection: "cloud_directory"}
	u.Ferry = f
	var extra, scimExtra, profileExtra extraBuilder
	var haveSCIM, haveProfile bool
	m := newMembers(obj, "")
	for m.next() {
		v := m.Val
		if isAbsent(v) {
			extra.add(m.RawKey, v)
			continue
		}
		key := intern(m.Key, cdKeys)
		ok := true
		switch key {
		case "scimUser":
			if v[0] != '{' {
				return nil, typeErr(key, "object", v)
			}
			haveSCIM = true
			if err := decodeCDSCIM(v, u, &scimExtra); err != nil {
				return nil, err
			}
		case "passwordHash", "passwordHashAlg":
			var s string
			s, ok, err = str(v, key)
			if err != nil {
				return nil, err
			}
			if key == "passwordHash" {
				f.PasswordHash = s
			} else {
				f.PasswordHashAlg = s
			}
		case "profile":
			if v[0] != '{' {
				return nil, typeErr(key, "object", v)
			}
			haveProfile = true
			pm := newMembers(v, "profile")
			gotAttrs := false
			for pm.next() {
				if string(pm.Key) == "attributes" && pm.Val[0] == '{' {
					f.Attributes, gotAttrs = json.RawMessage(pm.Val), true
					continue
				}
				if string(pm.Key) == "attributes" && !isNull(pm.Val) {
					return nil, typeErr("profile.attributes", "object", pm.Val)
				}
				profileExtra.add(pm.RawKey, pm.Val)
			}
			if pm.err != nil {
				return nil, pm.err
			}
			// A profile without attributes is remembered (as an empty Extra.profile) so
			// that it comes back.
			if gotAttrs && len(profileExtra.b) == 0 {
				haveProfile = false
			}
		case "roles":
			u.Roles, err = stringList(v, key)
			if err != nil {
				return nil, err
			}
			ok = len(u.Roles) > 0
		default:
			ok = false
		}
		if !ok {
			extra.add(m.RawKey, v)
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if !haveSCIM {
		return nil, &FieldError{Field: "scimUser", Msg: "missing"}
	}
	if haveProfile {
		extra.addObject(`"profile"`, &profileExtra)
	}
	// userName: as given, else the primary email, else the id.
	email := u.PrimaryEmail()
	if u.UserName != "" {
		if u.UserName == email || u.UserName == f.SourceID || u.UserName == u.ID {
			scimExtra.add([]byte(`"userName"`), jsonw.AppendString(nil, u.UserName))
		}
	} else {
		switch {
		case email != "":
			u.UserName = email
		case f.SourceID != "":
			u.UserName = f.SourceID
		default:
			return nil, &FieldError{Field: "scimUser.userName", Msg: "missing: a user needs userName, an email or originalId"}
		}
	}
	if len(scimExtra.b) > 0 {
		extra.addObject(`"scimUser"`, &scimExtra)
	}
	f.Extra = extra.bytes(false)
	u.EnsureSchemas()
	return u, nil
}

// decodeCDSCIM maps the SCIM attributes of scimUser onto u and collects the rest.
func decodeCDSCIM(obj []byte, u *schemas.User, rest *extraBuilder) error {
	known := make([]byte, 0, len(obj))
	known = append(known, '{')
	m := newMembers(obj, "scimUser")
	for m.next() {
		key := string(m.Key) // scimUser members are few; Cloud Directory is not a hot path
		switch {
		case key == "originalId" && m.Val[0] == '"':
			s, ok, err := str(m.Val, "scimUser.originalId")
			if err != nil {
				return err
			}
			if ok {
				u.Ferry.SourceID = s
				continue
			}
		case schemas.IsExtensionURN(key) && len(m.Val) > 0 && m.Val[0] == '{' && !hasExtension(u, key):
			// A custom schema extension: Cloud Directory's scimUser is a SCIM user, and
			// its extension data is the user's as in any SCIM record, kept verbatim.
			u.Extensions = append(u.Extensions, schemas.Extension{URN: key, Data: compactCopy(m.Val)})
			continue
		case cdKnown(key) && !isEmptyValue(m.Val):
			if len(known) > 1 {
				known = append(known, ',')
			}
			known = append(known, m.RawKey...)
			known = append(known, ':')
			known = append(known, m.Val...)
			continue
		}
		rest.add(m.RawKey, m.Val)
	}
	if m.err != nil {
		return m.err
	}
	known = append(known, '}')
	var cd cdSCIMUser
	if _, err := json.Parse(known, &cd, json.DisallowUnknownFields|json.DontMatchCaseInsensitiveStructFields); err != nil {
		fe := scimFieldError(err).(*FieldError)
		fe.Field = "scimUser." + fe.Field
		return fe
	}
	u.ID, u.ExternalID, u.Meta = cd.ID, cd.ExternalID, cd.Meta
	u.UserName, u.Name, u.DisplayName, u.NickName = cd.UserName, cd.Name, cd.DisplayName, cd.NickName
	u.ProfileURL, u.Title, u.UserType = cd.ProfileURL, cd.Title, cd.UserType
	u.PreferredLanguage, u.Locale, u.Timezone = cd.PreferredLanguage, cd.Locale, cd.Timezone
	u.Active, u.Password = cd.Active, cd.Password
	u.Emails, u.PhoneNumbers, u.IMs, u.Photos = cd.Emails, cd.PhoneNumbers, cd.IMs, cd.Photos
	u.Addresses, u.Groups, u.Entitlements = cd.Addresses, cd.Groups, cd.Entitlements
	u.X509Certificates, u.Enterprise = cd.X509Certificates, cd.Enterprise
	if u.Ferry.SourceID == "" {
		u.Ferry.SourceID = cd.ID
	}
	return nil
}

func hasExtension(u *schemas.User, urn string) bool {
	_, ok := u.Extension(urn)
	return ok
}

func fromAppID(u *schemas.User) bool {
	return u.Ferry != nil && (u.Ferry.Provider == core.FormatAppIDCD || u.Ferry.Provider == core.FormatAppID)
}

func encodeAppIDCD(dst []byte, u *schemas.User) ([]byte, error) {
	f := ferryOf(u)
	scimExtra, _ := lookup(f.Extra, "scimUser")
	if len(scimExtra) > 0 && scimExtra[0] != '{' {
		return dst, typeErr(pathExtra+".scimUser", "object", scimExtra)
	}
	cd := cdSCIMUser{
		ExternalID: u.ExternalID, Meta: u.Meta, Name: u.Name, DisplayName: u.DisplayName,
		NickName: u.NickName, ProfileURL: u.ProfileURL, Title: u.Title, UserType: u.UserType,
		PreferredLanguage: u.PreferredLanguage, Locale: u.Locale, Timezone: u.Timezone,
		Active: u.Active, Password: u.Password, Emails: u.Emails, PhoneNumbers: u.PhoneNumbers,
		IMs: u.IMs, Photos: u.Photos, Addresses: u.Addresses, Groups: u.Groups,
		Entitlements: u.Entitlements, X509Certificates: u.X509Certificates, Enterprise: u.Enterprise,
	}
	if f.Provider == core.FormatAppIDCD {
		cd.ID = u.ID // another service's SCIM id means nothing to Cloud Directory
	}
	var originalID string
	if fromAppID(u) && f.SourceID != cd.ID {
		originalID = f.SourceID
	}
	if u.UserName != u.PrimaryEmail() && u.UserName != originalID && u.UserName != cd.ID && u.UserName != f.SourceID {
		cd.UserName = u.UserName
	}

	var w objWriter
	w.open(dst)
	w.key("scimUser")
	b, err := json.Append(w.b, &cd, 0)
	if err != nil {
		return dst, err
	}
	// Reopen the scimUser object to add originalId and the verbatim members.
	sw := objWriter{b: b[:len(b)-1]}
	written := b[len(w.b):]
	if len(written) > 2 {
		sw.n = 1
	}
	if originalID != "" {
		sw.str("originalId", originalID)
	}
	for _, x := range u.Extensions {
		// Beside the enterprise extension, where Cloud Directory keeps SCIM extensions.
		if _, dup := lookup(written, x.URN); !dup {
			sw.rawMember(jsonw.AppendString(nil, x.URN), x.Data)
		}
	}
	if len(scimExtra) > 0 {
		em := newMembers(scimExtra, pathExtra+".scimUser")
		for em.next() {
			if _, dup := lookup(written, string(em.Key)); dup || (string(em.Key) == "originalId" && originalID != "") {
				continue
			}
			sw.rawMember(em.RawKey, em.Val)
		}
		if em.err != nil {
			return dst, em.err
		}
	}
	w.b = append(sw.b, '}')

	w.str("passwordHash", f.PasswordHash)
	w.str("passwordHashAlg", f.PasswordHashAlg)
	profExtra, hasProf := lookup(f.Extra, "profile")
	if hasProf && profExtra[0] != '{' {
		hasProf = false
	}
	if len(f.Attributes) > 0 || hasProf {
		w.key("profile")
		pw := objWriter{}
		pw.open(w.b)
		if len(f.Attributes) > 0 {
			if err := checkRaw(f.Attributes, pathAttributes, "object"); err != nil {
				return dst, err
			}
			pw.raw("attributes", f.Attributes)
		}
		if hasProf {
			if err := pw.extra(profExtra, pathExtra+".profile"); err != nil {
				return dst, err
			}
		}
		w.b = pw.close()
	}
	if len(u.Roles) > 0 {
		w.key("roles")
		w.b = appendRoleNames(w.b, u.Roles)
	}
	// scimUser and profile were written above (w.wrote skips them); a non-object
	// value under either name is an ordinary extra member and comes back verbatim.
	if err := w.extra(f.Extra, pathExtra); err != nil {
		return dst, err
	}
	return w.close(), nil
}
