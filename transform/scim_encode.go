package transform

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/jsonw"
	"github.com/ferry-dev/ferry/schemas"
)

// appendSCIMUser appends u as the SCIM JSON that
//
//	json.Append(dst, u, json.EscapeHTML|json.SortMapKeys|json.TrustRawMessage)
//
// (github.com/segmentio/encoding/json) writes, byte for byte, without reflection: field
// order, omitempty, HTML escaping of strings, and the compaction and HTML escaping of raw
// values all follow segmentio's encoder, and FuzzSCIMEncode holds the two to the same bytes
// (but for an empty identity, which segmentio writes as nothing, not JSON; here: null).
// Every backup and SCIM file ferry ever wrote came from segmentio's encoder; the bytes must
// not drift under users who diff or hash them.
//
// It never fails; the error is there so that it fits Encoder.
func appendSCIMUser(dst []byte, u *schemas.User) ([]byte, error) {
	if u == nil {
		return append(dst, "null"...), nil
	}
	// "schemas" and "userName" have no omitempty, so "schemas" always opens the object and
	// every later field follows a comma.
	b := append(dst, `{"schemas":`...)
	if u.Schemas == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range u.Schemas {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendHTMLString(b, s)
		}
		b = append(b, ']')
	}
	b = appendNextString(b, `,"id":`, u.ID)
	b = appendNextString(b, `,"externalId":`, u.ExternalID)
	if m := u.Meta; m != nil {
		b = append(b, `,"meta":`...)
		start := len(b)
		b = append(b, '{')
		b = appendMemberString(b, start, `"resourceType":`, m.ResourceType)
		b = appendMemberString(b, start, `"created":`, m.Created)
		b = appendMemberString(b, start, `"lastModified":`, m.LastModified)
		b = appendMemberString(b, start, `"location":`, m.Location)
		b = appendMemberString(b, start, `"version":`, m.Version)
		b = append(b, '}')
	}
	b = append(b, `,"userName":`...)
	b = jsonw.AppendHTMLString(b, u.UserName)
	if n := u.Name; n != nil {
		b = append(b, `,"name":`...)
		start := len(b)
		b = append(b, '{')
		b = appendMemberString(b, start, `"formatted":`, n.Formatted)
		b = appendMemberString(b, start, `"familyName":`, n.FamilyName)
		b = appendMemberString(b, start, `"givenName":`, n.GivenName)
		b = appendMemberString(b, start, `"middleName":`, n.MiddleName)
		b = appendMemberString(b, start, `"honorificPrefix":`, n.HonorificPrefix)
		b = appendMemberString(b, start, `"honorificSuffix":`, n.HonorificSuffix)
		b = append(b, '}')
	}
	b = appendNextString(b, `,"displayName":`, u.DisplayName)
	b = appendNextString(b, `,"nickName":`, u.NickName)
	b = appendNextString(b, `,"profileUrl":`, u.ProfileURL)
	b = appendNextString(b, `,"title":`, u.Title)
	b = appendNextString(b, `,"userType":`, u.UserType)
	b = appendNextString(b, `,"preferredLanguage":`, u.PreferredLanguage)
	b = appendNextString(b, `,"locale":`, u.Locale)
	b = appendNextString(b, `,"timezone":`, u.Timezone)
	if u.Active != nil {
		b = append(b, `,"active":`...)
		b = appendBool(b, *u.Active)
	}
	b = appendNextString(b, `,"password":`, u.Password)

	b = appendMultiValued(b, `,"emails":`, u.Emails)
	b = appendMultiValued(b, `,"phoneNumbers":`, u.PhoneNumbers)
	b = appendMultiValued(b, `,"ims":`, u.IMs)
	b = appendMultiValued(b, `,"photos":`, u.Photos)
	if len(u.Addresses) > 0 {
		b = append(b, `,"addresses":[`...)
		for i := range u.Addresses {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAddress(b, &u.Addresses[i])
		}
		b = append(b, ']')
	}
	b = appendMultiValued(b, `,"groups":`, u.Groups)
	b = appendMultiValued(b, `,"entitlements":`, u.Entitlements)
	b = appendMultiValued(b, `,"roles":`, u.Roles)
	b = appendMultiValued(b, `,"x509Certificates":`, u.X509Certificates)

	if e := u.Enterprise; e != nil {
		b = append(b, `,"`+schemas.EnterpriseUserURN+`":`...)
		b = appendEnterprise(b, e)
	}
	if f := u.Ferry; f != nil {
		b = append(b, `,"`+schemas.FerryUserURN+`":`...)
		b = appendFerry(b, f)
	}
	b = appendExtensions(b, u.Extensions)
	return append(b, '}'), nil
}

// appendNextString appends a member that follows another one (key starts with its comma),
// omitted when empty.
func appendNextString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return jsonw.AppendHTMLString(append(b, key...), v)
}

// appendMemberString appends an omitempty string member of the object opened at b[start].
func appendMemberString(b []byte, start int, key, v string) []byte {
	if v == "" {
		return b
	}
	if len(b) > start+1 {
		b = append(b, ',')
	}
	return jsonw.AppendHTMLString(append(b, key...), v)
}

// appendMemberBool appends an omitempty bool member (written only when true).
func appendMemberBool(b []byte, start int, key string, v bool) []byte {
	if !v {
		return b
	}
	if len(b) > start+1 {
		b = append(b, ',')
	}
	return append(append(b, key...), "true"...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func appendMultiValued(b []byte, key string, vs []schemas.MultiValued) []byte {
	if len(vs) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i := range vs {
		v := &vs[i]
		if i > 0 {
			b = append(b, ',')
		}
		start := len(b)
		b = append(b, '{')
		b = appendMemberString(b, start, `"value":`, v.Value)
		b = appendMemberString(b, start, `"display":`, v.Display)
		b = appendMemberString(b, start, `"type":`, v.Type)
		b = appendMemberBool(b, start, `"primary":`, v.Primary)
		b = appendMemberString(b, start, `"$ref":`, v.Ref)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendAddress(b []byte, a *schemas.Address) []byte {
	start := len(b)
	b = append(b, '{')
	b = appendMemberString(b, start, `"formatted":`, a.Formatted)
	b = appendMemberString(b, start, `"streetAddress":`, a.StreetAddress)
	b = appendMemberString(b, start, `"locality":`, a.Locality)
	b = appendMemberString(b, start, `"region":`, a.Region)
	b = appendMemberString(b, start, `"postalCode":`, a.PostalCode)
	b = appendMemberString(b, start, `"country":`, a.Country)
	b = appendMemberString(b, start, `"type":`, a.Type)
	b = appendMemberBool(b, start, `"primary":`, a.Primary)
	return append(b, '}')
}

func appendEnterprise(b []byte, e *schemas.EnterpriseUser) []byte {
	start := len(b)
	b = append(b, '{')
	b = appendMemberString(b, start, `"employeeNumber":`, e.EmployeeNumber)
	b = appendMemberString(b, start, `"costCenter":`, e.CostCenter)
	b = appendMemberString(b, start, `"organization":`, e.Organization)
	b = appendMemberString(b, start, `"division":`, e.Division)
	b = appendMemberString(b, start, `"department":`, e.Department)
	if m := e.Manager; m != nil {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, `"manager":`...)
		ms := len(b)
		b = append(b, '{')
		b = appendMemberString(b, ms, `"value":`, m.Value)
		b = appendMemberString(b, ms, `"$ref":`, m.Ref)
		b = appendMemberString(b, ms, `"displayName":`, m.DisplayName)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendFerry(b []byte, f *schemas.FerryUser) []byte {
	start := len(b)
	b = append(b, '{')
	b = appendMemberString(b, start, `"provider":`, f.Provider)
	b = appendMemberString(b, start, `"sourceId":`, f.SourceID)
	b = appendMemberString(b, start, `"connection":`, f.Connection)
	b = appendMemberBoolPtr(b, start, `"emailVerified":`, f.EmailVerified)
	b = appendMemberBoolPtr(b, start, `"phoneVerified":`, f.PhoneVerified)
	if len(f.Identities) > 0 {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, `"identities":[`...)
		for i, raw := range f.Identities {
			if i > 0 {
				b = append(b, ',')
			}
			// segmentio writes a nil element as null and an empty one as nothing at all,
			// which is not JSON: both are null here, the one place the bytes differ.
			if len(raw) == 0 {
				b = append(b, "null"...)
			} else {
				b = appendCompactHTML(b, raw)
			}
		}
		b = append(b, ']')
	}
	b = appendMemberRaw(b, start, `"appMetadata":`, f.AppMetadata)
	b = appendMemberRaw(b, start, `"userMetadata":`, f.UserMetadata)
	b = appendMemberRaw(b, start, `"attributes":`, f.Attributes)
	b = appendMemberString(b, start, `"passwordHash":`, f.PasswordHash)
	b = appendMemberString(b, start, `"passwordHashAlg":`, f.PasswordHashAlg)
	b = appendMemberRaw(b, start, `"customPasswordHash":`, f.CustomPasswordHash)
	b = appendMemberRaw(b, start, `"mfaFactors":`, f.MFAFactors)
	b = appendMemberRaw(b, start, `"extra":`, f.Extra)
	return append(b, '}')
}

func appendMemberBoolPtr(b []byte, start int, key string, v *bool) []byte {
	if v == nil {
		return b
	}
	if len(b) > start+1 {
		b = append(b, ',')
	}
	return appendBool(append(b, key...), *v)
}

// appendMemberRaw appends an omitempty raw member: segmentio omits a raw value of length 0,
// nil or not.
func appendMemberRaw(b []byte, start int, key string, raw []byte) []byte {
	if len(raw) == 0 {
		return b
	}
	if len(b) > start+1 {
		b = append(b, ',')
	}
	return appendCompactHTML(append(b, key...), raw)
}

// stringSpecial returns the index of the first byte at or after i that can change how a
// raw value's string content is written: \, ", <, >, & or any byte >= 0x80 (the lead byte
// of U+2028/U+2029 is among them); len(src) if none.
func stringSpecial(src []byte, i int) int {
	for ; i+8 <= len(src); i += 8 {
		x := binary.LittleEndian.Uint64(src[i:])
		m := (x | jsonw.LaneEq(x, '\\') | jsonw.LaneEq(x, '"') | jsonw.LaneEq(x, '<') | jsonw.LaneEq(x, '>') | jsonw.LaneEq(x, '&')) & jsonw.LanesMSB
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(src); i++ {
		switch c := src[i]; c {
		case '\\', '"', '<', '>', '&':
			return i
		default:
			if c >= utf8.RuneSelf {
				return i
			}
		}
	}
	return i
}

// appendCompactHTML appends a raw JSON value the way segmentio's appendCompactEscapeHTML
// does, and only that way, so that even a malformed value comes out the same: outside
// strings it drops spaces, tabs, CR and LF; inside strings it writes <, >, & as \u00XX and
// U+2028/U+2029 as \u2028/\u2029, and never looks at the byte after a backslash. Runs of
// bytes it keeps are copied with one append: a compact value free of <, >, & (the usual
// case) costs a scan and one copy.
func appendCompactHTML(dst, src []byte) []byte {
	start := 0
	i := 0
	n := len(src)
	for i < n {
		// Outside a string: values here are punctuation, numbers and literals, so runs are
		// short and a byte loop is as fast as anything.
		c := src[i]
		switch c {
		case ' ', '\n', '\r', '\t':
			dst = append(dst, src[start:i]...)
			i++
			start = i
			continue
		case '"':
		default:
			i++
			continue
		}
		// Inside a string, from the byte after its opening quote.
		i++
	inString:
		for {
			i = stringSpecial(src, i)
			if i >= n {
				break
			}
			switch c := src[i]; c {
			case '\\':
				i += 2 // the escaped byte, whatever it is, is kept as it is
			case '"':
				i++
				break inString
			case '<', '>', '&':
				dst = append(dst, src[start:i]...)
				dst = append(dst, '\\', 'u', '0', '0', jsonw.HexDigits[c>>4], jsonw.HexDigits[c&0xf])
				i++
				start = i
			default:
				if c == 0xe2 && i+2 < n && src[i+1] == 0x80 && src[i+2]&^1 == 0xa8 {
					dst = append(dst, src[start:i]...)
					dst = append(dst, '\\', 'u', '2', '0', '2', jsonw.HexDigits[src[i+2]&0xf])
					i += 3
					start = i
				} else {
					i++
				}
			}
		}
	}
	if start < n {
		dst = append(dst, src[start:]...)
	}
	return dst
}
