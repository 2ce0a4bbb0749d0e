package transform

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

// OpenID Connect UserInfo claims (OpenID Connect Core 1.0 §5.1) -> SCIM:
//
//	sub                     externalId, ferry sourceId (required, §5.3.2)
//	preferred_username | email | sub   userName (first present)
//	name                    displayName and name.formatted
//	given_name/family_name/middle_name   name.*;  nickname -> nickName
//	profile                 profileUrl;  picture -> photos[0] {value, type:"photo"}
//	email                   emails[0] {value, primary:true};  email_verified -> ferry emailVerified
//	phone_number            phoneNumbers[0].value;  phone_number_verified -> ferry phoneVerified
//	zoneinfo, locale        timezone, locale
//	address                 addresses[0] (formatted, street_address, locality, region,
//	                        postal_code, country); other address members -> extra.address
//	updated_at              meta.lastModified, RFC 3339 UTC (seconds since the epoch; an RFC
//	                        3339 string, as Auth0's /userinfo sends, is kept as written)
//	website, gender, birthdate and every other claim   ferry extra, verbatim
//
// The encoder writes the claims back; a string updated_at comes back as seconds.

func init() {
	RegisterDecoder(core.FormatOIDC, recordMapper(mapOIDC))
	RegisterEncoder(core.FormatOIDC, EncoderFunc(encodeOIDC))
}

var oidcKeys = []string{"sub", "name", "given_name", "family_name", "middle_name", "nickname",
	"preferred_username", "profile", "picture", "email", "zoneinfo", "locale", "phone_number",
	"email_verified", "phone_number_verified", "address", "updated_at"}

var oidcAddressKeys = []string{"formatted", "street_address", "locality", "region", "postal_code", "country"}

// decodeOIDC is the registered decoder's Decode: it checks the record first.
var decodeOIDC = recordMapper(mapOIDC).Decode

func mapOIDC(obj []byte) (*schemas.User, error) {
	var err error
	u := new(schemas.User)
	f := &schemas.FerryUser{Provider: core.FormatOIDC}
	u.Ferry = f
	var (
		extra            extraBuilder
		name             schemas.Name
		preferred        string
		prefKey, prefVal []byte
	)
	m := newMembers(obj, "")
	for m.next() {
		v := m.Val
		if isAbsent(v) {
			extra.add(m.RawKey, v)
			continue
		}
		key := intern(m.Key, oidcKeys)
		var ok bool
		switch key {
		case "sub", "name", "given_name", "family_name", "middle_name", "nickname",
			"preferred_username", "profile", "picture", "email", "zoneinfo", "locale", "phone_number":
			var s string
			s, ok, err = str(v, key)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			switch key {
			case "sub":
				u.ExternalID, f.SourceID = s, s
			case "name":
				u.DisplayName, name.Formatted = s, s
			case "given_name":
				name.GivenName = s
			case "family_name":
				name.FamilyName = s
			case "middle_name":
				name.MiddleName = s
			case "nickname":
				u.NickName = s
			case "preferred_username":
				preferred, prefKey, prefVal = s, m.RawKey, v
			case "profile":
				u.ProfileURL = s
			case "picture":
				u.Photos = []schemas.MultiValued{{Value: s, Type: "photo"}}
			case "email":
				u.Emails = []schemas.MultiValued{{Value: s, Primary: true}}
			case "zoneinfo":
				u.Timezone = s
			case "locale":
				u.Locale = s
			case "phone_number":
				u.PhoneNumbers = []schemas.MultiValued{{Value: s}}
			}
		case "email_verified", "phone_number_verified":
			b, err := boolish(v, key, true)
			if err != nil {
				return nil, err
			}
			if key == "email_verified" {
				f.EmailVerified = &b
			} else {
				f.PhoneVerified = &b
			}
			ok = true
		case "address":
			var rest extraBuilder
			a, err := oidcAddress(v, &rest)
			if err != nil {
				return nil, err
			}
			if a != (schemas.Address{}) {
				u.Addresses = []schemas.Address{a}
			}
			if len(rest.b) > 0 || a == (schemas.Address{}) {
				extra.addObject(`"address"`, &rest)
			}
			ok = true
		case "updated_at":
			s, err := oidcTime(v, key)
			if err != nil {
				return nil, err
			}
			u.Meta = &schemas.Meta{ResourceType: "User", LastModified: s}
			ok = true
		}
		if !ok {
			extra.add(m.RawKey, v)
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if f.SourceID == "" {
		return nil, &FieldError{Field: "sub", Msg: "missing: UserInfo requires sub"}
	}
	if name != (schemas.Name{}) {
		u.Name = &name
	}
	switch {
	case preferred != "":
		u.UserName = preferred
		if preferred == u.PrimaryEmail() || preferred == f.SourceID {
			extra.add(prefKey, prefVal)
		}
	case len(u.Emails) > 0:
		u.UserName = u.Emails[0].Value
	default:
		u.UserName = f.SourceID
	}
	f.Extra = extra.bytes(false)
	u.EnsureSchemas()
	return u, nil
}

func oidcAddress(v []byte, rest *extraBuilder) (schemas.Address, error) {
	var a schemas.Address
	if v[0] != '{' {
		return a, typeErr("address", "object", v)
	}
	m := newMembers(v, "address")
	for m.next() {
		key := intern(m.Key, oidcAddressKeys)
		var dst *string
		switch key {
		case "formatted":
			dst = &a.Formatted
		case "street_address":
			dst = &a.StreetAddress
		case "locality":
			dst = &a.Locality
		case "region":
			dst = &a.Region
		case "postal_code":
			dst = &a.PostalCode
		case "country":
			dst = &a.Country
		}
		if dst != nil && !isNull(m.Val) {
			s, ok, err := str(m.Val, "address."+key)
			if err != nil {
				return a, err
			}
			if ok {
				*dst = s
				continue
			}
		}
		rest.add(m.RawKey, m.Val)
	}
	return a, m.err
}

// oidcTime reads updated_at: a JSON number of seconds since the epoch (§5.1), possibly
// fractional, or an RFC 3339 string.
func oidcTime(v []byte, path string) (string, error) {
	if v[0] == '"' {
		return timestamp(v, path)
	}
	if jsonKind(v) != "number" {
		return "", typeErr(path, "number (seconds since the epoch)", v)
	}
	s := string(v)
	var sec, nsec int64
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(intPart, 10, 64); err == nil && !strings.ContainsAny(frac, "eE") {
		sec = n
		if hasFrac {
			frac = (frac + "000000000")[:9]
			ns, err := strconv.ParseInt(frac, 10, 64)
			if err != nil {
				return "", &FieldError{Field: path, Msg: "not a number of seconds"}
			}
			if strings.HasPrefix(intPart, "-") {
				ns = -ns
			}
			nsec = ns
		}
	} else {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(x, 0) || math.Abs(x) > 1e11 {
			return "", &FieldError{Field: path, Msg: "seconds since the epoch out of range"}
		}
		sec = int64(x)
		nsec = int64((x - float64(sec)) * 1e9)
	}
	if sec > 253402300799 || sec < -62135596800 { // years 0001..9999, RFC 3339's range
		return "", &FieldError{Field: path, Msg: "seconds since the epoch out of range"}
	}
	return time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano), nil
}

func encodeOIDC(dst []byte, u *schemas.User) ([]byte, error) {
	f := ferryOf(u)
	var w objWriter
	w.open(dst)
	sub := sourceID(u)
	if sub == "" {
		return dst, &FieldError{Field: "externalId", Msg: "missing: UserInfo requires sub"}
	}
	w.str("sub", sub)
	w.str("name", displayName(u))
	if u.Name != nil {
		w.str("given_name", u.Name.GivenName)
		w.str("family_name", u.Name.FamilyName)
		w.str("middle_name", u.Name.MiddleName)
	}
	w.str("nickname", u.NickName)
	email := u.PrimaryEmail()
	if u.UserName != email && u.UserName != sub {
		w.str("preferred_username", u.UserName)
	}
	w.str("profile", u.ProfileURL)
	if i := photoIndex(u.Photos); i >= 0 {
		w.str("picture", u.Photos[i].Value)
	}
	w.str("email", email)
	if f.EmailVerified != nil {
		w.boolean("email_verified", *f.EmailVerified)
	}
	w.str("zoneinfo", u.Timezone)
	w.str("locale", u.Locale)
	if i := primaryIndex(u.PhoneNumbers); i >= 0 {
		w.str("phone_number", u.PhoneNumbers[i].Value)
	}
	if f.PhoneVerified != nil {
		w.boolean("phone_number_verified", *f.PhoneVerified)
	}
	addrExtra, hasAddr := lookup(f.Extra, "address")
	if hasAddr && addrExtra[0] != '{' {
		hasAddr = false
	}
	if len(u.Addresses) > 0 || hasAddr {
		w.key("address")
		var aw objWriter
		aw.open(w.b)
		if len(u.Addresses) > 0 {
			a := u.Addresses[0]
			for _, ad := range u.Addresses {
				if ad.Primary {
					a = ad
					break
				}
			}
			aw.str("formatted", a.Formatted)
			aw.str("street_address", a.StreetAddress)
			aw.str("locality", a.Locality)
			aw.str("region", a.Region)
			aw.str("postal_code", a.PostalCode)
			aw.str("country", a.Country)
		}
		if hasAddr {
			if err := aw.extra(addrExtra, pathExtra+".address"); err != nil {
				return dst, err
			}
		}
		w.b = aw.close()
	}
	if u.Meta != nil && u.Meta.LastModified != "" {
		t, err := time.Parse(time.RFC3339Nano, u.Meta.LastModified)
		if err != nil {
			return dst, &FieldError{Field: "meta.lastModified", Msg: "not an RFC 3339 date-time"}
		}
		w.key("updated_at")
		w.b = appendEpoch(w.b, t)
	}
	if err := w.extra(f.Extra, pathExtra); err != nil {
		return dst, err
	}
	return w.close(), nil
}

// appendEpoch writes t as seconds since the epoch, with a fraction only when t has one.
func appendEpoch(b []byte, t time.Time) []byte {
	sec, ns := t.Unix(), t.Nanosecond()
	if ns == 0 {
		return strconv.AppendInt(b, sec, 10)
	}
	if sec < 0 {
		// -1.5 is sec -2 + 0.5 s in Go's representation.
		sec++
		ns = 1e9 - ns
		if sec == 0 {
			b = append(b, '-')
		}
	}
	b = strconv.AppendInt(b, sec, 10)
	frac := strconv.Itoa(ns + 1e9)[1:]
	return append(append(b, '.'), strings.TrimRight(frac, "0")...)
}
