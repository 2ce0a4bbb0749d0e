package schemas

import (
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// Validate reports every way u breaks the rules of a valid user (DESIGN.md "The canonical
// user"), each with its attribute path, or nil when there is none:
//
//   - userName is present and not blank;
//   - every string is valid UTF-8, binary values are base64, meta dates are xsd:dateTime;
//   - a multi-valued attribute has at most one primary value, and only where its definition
//     has a primary sub-attribute (likewise display and $ref);
//   - every value of a multi-valued attribute that has a "value" sub-attribute has one;
//   - a "type" is one of its definition's canonical values (case-insensitively unless the
//     definition says caseExact);
//   - schemas lists the core URN and the URN of every extension the user carries, and
//     nothing else ferry does not know;
//   - the ferry extension's opaque members hold JSON of their defined shape.
//
// Types (string, boolean, complex) are already enforced by the Go types; ValidateJSON checks
// them on a raw record. Uniqueness of userName across users is NameSet's job.
//
// Validate runs for every user on the hot path: a valid user costs no allocation.
func Validate(u *User) []Violation {
	var c collector
	carried := [2]bool{u.Enterprise != nil, u.Ferry != nil}
	var custom []string
	if len(u.Extensions) > 0 {
		custom = make([]string, 0, len(u.Extensions))
		for _, e := range u.Extensions {
			custom = append(custom, e.URN)
			if msg := extensionShape(e); msg != "" {
				c.add(e.URN, msg)
			}
		}
	}
	checkSchemas(&c, u.Schemas, nil, carried, custom)

	c.str("id", u.ID)
	c.str("externalId", u.ExternalID)
	if u.Meta != nil {
		validateMeta(&c, u.Meta)
	}
	if blank(u.UserName) {
		c.add("userName", msgUserNameRequired)
	} else {
		c.str("userName", u.UserName)
	}
	if n := u.Name; n != nil {
		c.str("name.formatted", n.Formatted)
		c.str("name.familyName", n.FamilyName)
		c.str("name.givenName", n.GivenName)
		c.str("name.middleName", n.MiddleName)
		c.str("name.honorificPrefix", n.HonorificPrefix)
		c.str("name.honorificSuffix", n.HonorificSuffix)
	}
	c.str("displayName", u.DisplayName)
	c.str("nickName", u.NickName)
	c.str("profileUrl", u.ProfileURL)
	c.str("title", u.Title)
	c.str("userType", u.UserType)
	c.str("preferredLanguage", u.PreferredLanguage)
	c.str("locale", u.Locale)
	c.str("timezone", u.Timezone)
	c.str("password", u.Password) // the message never quotes the value

	c.multi(ruleEmails, u.Emails)
	c.multi(rulePhoneNumbers, u.PhoneNumbers)
	c.multi(ruleIMs, u.IMs)
	c.multi(rulePhotos, u.Photos)
	c.addresses(ruleAddresses, u.Addresses)
	c.multi(ruleGroups, u.Groups)
	c.multi(ruleEntitlements, u.Entitlements)
	c.multi(ruleRoles, u.Roles)
	c.multi(ruleX509Certificates, u.X509Certificates)

	if e := u.Enterprise; e != nil {
		const p = EnterpriseUserURN + ":"
		c.str(p+"employeeNumber", e.EmployeeNumber)
		c.str(p+"costCenter", e.CostCenter)
		c.str(p+"organization", e.Organization)
		c.str(p+"division", e.Division)
		c.str(p+"department", e.Department)
		if m := e.Manager; m != nil {
			c.str(p+"manager.value", m.Value)
			c.str(p+"manager.$ref", m.Ref)
			c.str(p+"manager.displayName", m.DisplayName)
		}
	}
	if f := u.Ferry; f != nil {
		validateFerry(&c, f)
	}
	return c.result()
}

// extensionShape checks one custom extension: a URN ferry keeps (not a built-in one, which
// would be written twice) and an object for data. Its attributes are checked against a
// definition only where one is known (ValidateExtension, with the server's /Schemas).
func extensionShape(e Extension) string {
	if !IsExtensionURN(e.URN) {
		if msg := notExtensionMsg(e.URN); msg != "" {
			return msg
		}
		return "a built-in schema's URN cannot hold extension data"
	}
	i := 0
	for i < len(e.Data) && (e.Data[i] == ' ' || e.Data[i] == '\t' || e.Data[i] == '\n' || e.Data[i] == '\r') {
		i++
	}
	if i >= len(e.Data) || e.Data[i] != '{' {
		k := "nothing"
		if i < len(e.Data) {
			k = kindOf(e.Data[i])
		}
		return "expected object (extension data), got " + k
	}
	if !utf8.Valid(e.Data) {
		return msgBadUTF8
	}
	return ""
}

func validateMeta(c *collector, m *Meta) {
	c.str("meta.resourceType", m.ResourceType)
	c.dateTime("meta.created", m.Created)
	c.dateTime("meta.lastModified", m.LastModified)
	c.str("meta.location", m.Location)
	c.str("meta.version", m.Version)
}

// ferryRaw maps the ferry extension's opaque Go fields to their definitions.
var ferryRaw = []struct {
	attr *Attribute
	get  func(*FerryUser) json.RawMessage
}{
	{mustAttr(mustDef(FerryUserURN), "appMetadata"), func(f *FerryUser) json.RawMessage { return f.AppMetadata }},
	{mustAttr(mustDef(FerryUserURN), "userMetadata"), func(f *FerryUser) json.RawMessage { return f.UserMetadata }},
	{mustAttr(mustDef(FerryUserURN), "attributes"), func(f *FerryUser) json.RawMessage { return f.Attributes }},
	{mustAttr(mustDef(FerryUserURN), "customPasswordHash"), func(f *FerryUser) json.RawMessage { return f.CustomPasswordHash }},
	{mustAttr(mustDef(FerryUserURN), "mfaFactors"), func(f *FerryUser) json.RawMessage { return f.MFAFactors }},
	{mustAttr(mustDef(FerryUserURN), "extra"), func(f *FerryUser) json.RawMessage { return f.Extra }},
}

var ferryIdentities = mustAttr(mustDef(FerryUserURN), "identities")

func validateFerry(c *collector, f *FerryUser) {
	const p = FerryUserURN + ":"
	c.str(p+"provider", f.Provider)
	c.str(p+"sourceId", f.SourceID)
	c.str(p+"connection", f.Connection)
	c.str(p+"passwordHash", f.PasswordHash)
	c.str(p+"passwordHashAlg", f.PasswordHashAlg)
	for i, id := range f.Identities {
		if msg := rawShape(id, ferryIdentities, true); msg != "" {
			c.add(idx(p+ferryIdentities.Name, i, ""), msg)
		}
	}
	for _, r := range ferryRaw {
		if msg := rawShape(r.get(f), r.attr, false); msg != "" {
			c.add(p+r.attr.Name, msg)
		}
	}
}

// rawShape checks that raw holds what a (here always complex) definition promises: an
// object, or an array for a multi-valued one (elem: raw is one element of it). null and
// absence are fine. It does not parse raw: the decoder that made it did.
func rawShape(raw json.RawMessage, a *Attribute, elem bool) string {
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	if i == len(raw) || string(raw[i:]) == "null" {
		return ""
	}
	want, got := byte('{'), raw[i]
	if a.MultiValued && !elem {
		want = '['
	}
	if got != want {
		return "expected " + kindOf(want) + ", got " + kindOf(got)
	}
	if !utf8.Valid(raw) {
		return msgBadUTF8
	}
	return ""
}

// kindOf names the JSON kind that starts with b.
func kindOf(b byte) string {
	switch b {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func (c *collector) str(path, s string) {
	if !utf8.ValidString(s) {
		c.add(path, msgBadUTF8)
	}
}

func (c *collector) dateTime(path, s string) {
	if s == "" {
		return
	}
	if !utf8.ValidString(s) {
		c.add(path, msgBadUTF8)
		return
	}
	if !validDateTime(s) {
		c.add(path, notDateTimeMsg(s))
	}
}

// multi checks the values of a multi-valued attribute of the MultiValued shape.
func (c *collector) multi(r *mvRule, vals []MultiValued) {
	primary := -1
	for i := range vals {
		v := &vals[i]
		c.mvValue(r, i, v.Value)
		if v.Display != "" {
			if !r.hasDisplay {
				c.add(idx(r.name, i, "display"), notSubAttrMsg(r.name, "display"))
			} else if !utf8.ValidString(v.Display) {
				c.add(idx(r.name, i, "display"), msgBadUTF8)
			}
		}
		if v.Ref != "" {
			if !r.hasRef {
				c.add(idx(r.name, i, "$ref"), notSubAttrMsg(r.name, "$ref"))
			} else if !utf8.ValidString(v.Ref) {
				c.add(idx(r.name, i, "$ref"), msgBadUTF8)
			}
		}
		c.mvType(r, i, v.Type)
		c.mvPrimary(r, i, v.Primary, &primary)
	}
}

// addresses checks the addresses attribute, the one multi-valued attribute without "value".
func (c *collector) addresses(r *mvRule, vals []Address) {
	primary := -1
	for i := range vals {
		a := &vals[i]
		c.mvString(r, i, "formatted", a.Formatted)
		c.mvString(r, i, "streetAddress", a.StreetAddress)
		c.mvString(r, i, "locality", a.Locality)
		c.mvString(r, i, "region", a.Region)
		c.mvString(r, i, "postalCode", a.PostalCode)
		c.mvString(r, i, "country", a.Country)
		c.mvType(r, i, a.Type)
		c.mvPrimary(r, i, a.Primary, &primary)
	}
}

func (c *collector) mvString(r *mvRule, i int, sub, s string) {
	if !utf8.ValidString(s) {
		c.add(idx(r.name, i, sub), msgBadUTF8)
	}
}

func (c *collector) mvValue(r *mvRule, i int, s string) {
	if r.value == nil {
		if s != "" {
			c.add(idx(r.name, i, "value"), notSubAttrMsg(r.name, "value"))
		}
		return
	}
	switch {
	case !utf8.ValidString(s):
		c.add(idx(r.name, i, "value"), msgBadUTF8)
	case blank(s):
		c.add(idx(r.name, i, "value"), msgEmptyValue)
	case r.value.Type == TypeBinary && !validBase64(s):
		c.add(idx(r.name, i, "value"), msgNotBase64)
	}
}

func (c *collector) mvType(r *mvRule, i int, s string) {
	if s == "" {
		return
	}
	switch {
	case r.typ == nil:
		c.add(idx(r.name, i, "type"), notSubAttrMsg(r.name, "type"))
	case !utf8.ValidString(s):
		c.add(idx(r.name, i, "type"), msgBadUTF8)
	case !canonical(r.typ, s):
		c.add(idx(r.name, i, "type"), notCanonicalMsg(r.typ, s))
	}
}

// mvPrimary tracks the first primary value in *first and reports any later one.
func (c *collector) mvPrimary(r *mvRule, i int, primary bool, first *int) {
	if !primary {
		return
	}
	switch {
	case !r.hasPrimary:
		c.add(idx(r.name, i, "primary"), notSubAttrMsg(r.name, "primary"))
	case *first >= 0:
		c.add(idx(r.name, i, "primary"), secondPrimaryMsg(r.name, *first))
	default:
		*first = i
	}
}
