package transform

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// Auth0 size limits (Auth0 docs, "Metadata field names and data types" and "Metadata
// storage limits"; see DESIGN.md).
const (
	// Profiles over 10 KB are deprecated: warnings now, writes may fail after 2027-03-04.
	profileWarnBytes = 10 * 1024
	// Management API payloads, and the per-user search index, stop at 1 MB.
	profileMaxBytes = 1024 * 1024
	// Signup through the Authentication API: at most 10 user_metadata fields, strings of
	// at most 500 characters.
	signupMaxFields = 10
	signupMaxLen    = 500
	// client_metadata: at most 10 keys, keys and values of at most 255 characters.
	clientMetadataMaxKeys = 10
	clientMetadataMaxLen  = 255
)

type sizePolicy struct{ truncate bool }

var _ Policy = (*sizePolicy)(nil)

func (p *sizePolicy) Name() string { return "size" }

func (p *sizePolicy) Apply(u *schemas.User, c *Changes) error { return p.apply(u, c, new(userScan)) }

func (p *sizePolicy) apply(u *schemas.User, c *Changes, us *userScan) error {
	for i := 0; i < nBlobs; i++ {
		raw, f, ok := us.blob(u, i)
		if !ok || f&scLongString == 0 {
			continue
		}
		if f&scInvalid != 0 {
			return invalidBlob(raw, i)
		}
		root, changed, err := loadBlob(raw, i, c, false)
		if err != nil {
			return err
		}
		mdWalkTree(root, blobNames[i], hintNone, func(v *mdValue, path string, hint keyHint) bool {
			if v.kind != mdString || len(v.s) <= searchableLen {
				return true
			}
			n := utf8.RuneCountInString(v.s)
			if n <= searchableLen {
				return true
			}
			if !p.truncate {
				c.Add(RuleSearchSize, path, nil, nil, fmt.Sprintf(
					"%d characters: values over 256 characters are left out of Auth0 user search (--truncate-search cuts them)", n))
				return true
			}
			before := v.clone()
			v.s = truncateRunes(v.s, searchableLen)
			addMD(c, RuleSearchSize, path, before, v, hint, fmt.Sprintf(
				"%d characters truncated to 256 for Auth0 user search (--truncate-search); the full value is only in this log", n))
			changed = true
			return true
		})
		if changed {
			setBlobRaw(u, i, root.raw())
		}
	}
	size := profileSize(u)
	switch {
	case size > profileMaxBytes:
		return &Rejection{Rule: RuleProfileSize, Path: "(profile)", Msg: fmt.Sprintf(
			"%d bytes: over Auth0's 1 MB limit for a user (Management API payloads and the search index)", size)}
	case size > profileWarnBytes:
		c.Add(RuleProfileSize, "(profile)", nil, nil, fmt.Sprintf(
			"%.1f KB: Auth0 deprecates profiles over 10 KB (writes may fail after 2027-03-04); move bulky data to an external store", float64(size)/1024))
	}
	return nil
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// profileSize is the size of u as JSON (its canonical form, which Auth0's is close to).
// Most profiles are far below 10 KB, so an upper bound is computed first and the user is
// encoded only when the bound is over the warning threshold.
func profileSize(u *schemas.User) int {
	// Lengths alone first (no byte is looked at), then a scan of every byte, then encoding.
	if b := sizeBound(u, false); b <= profileWarnBytes {
		return b
	}
	if b := sizeBound(u, true); b <= profileWarnBytes {
		return b
	}
	bp := sizeBufPool.Get().(*[]byte)
	defer sizeBufPool.Put(bp)
	// json.Marshal's flags, plus trust in raw values (see encodeSCIM): the same bytes.
	b, err := json.Append((*bp)[:0], u, json.EscapeHTML|json.SortMapKeys|json.TrustRawMessage)
	if cap(b) <= 2*profileMaxBytes {
		*bp = b[:0]
	}
	if err != nil {
		return profileSizeBound(u)
	}
	return len(b)
}

var sizeBufPool = sync.Pool{New: func() any { return new([]byte) }}

// escapedLen bounds how many bytes each input byte takes inside an encoded JSON string:
// 2 for '"' and '\', 6 for control characters and for '<', '>', '&' (HTML escaping),
// 6 for any byte of a non-ASCII rune (an invalid byte becomes \ufffd; U+2028 and U+2029
// become \u2028 and \u2029), 1 otherwise.
var escapedLen = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20, c == '<', c == '>', c == '&', c >= 0x80:
			t[c] = 6
		case c == '"', c == '\\':
			t[c] = 2
		default:
			t[c] = 1
		}
	}
	return t
}()

// rawGrowth bounds how much a raw JSON value grows when encoded: compaction only shrinks
// it, HTML escaping turns '<', '>', '&' into 6 bytes and U+2028/U+2029 (3 bytes, led by
// 0xE2) into 6.
var rawGrowth = func() (t [256]uint8) {
	t['<'], t['>'], t['&'], t[0xE2] = 5, 5, 5, 3
	return t
}()

// profileSizeBound over-estimates the encoded size: every string and raw value by its
// worst escaping (above), every field 64 bytes of name and punctuation. It is tight
// enough that a typical profile of 1-3 KB is never encoded just to be measured.
func profileSizeBound(u *schemas.User) int { return sizeBound(u, true) }

// sizeBound is profileSizeBound; without scan it looks at lengths only and counts every
// byte at its worst (6), which settles most profiles without reading them.
func sizeBound(u *schemas.User, scan bool) int {
	const field = 64
	n := 256
	str := func(ss ...string) {
		for _, s := range ss {
			if s == "" {
				continue
			}
			n += 2 + field
			if !scan {
				n += 6 * len(s)
				continue
			}
			for i := 0; i < len(s); i++ {
				n += int(escapedLen[s[i]])
			}
		}
	}
	raw := func(r []byte) {
		n += len(r) + field
		if !scan {
			n += 5 * len(r)
			return
		}
		for _, c := range r {
			n += int(rawGrowth[c])
		}
	}
	str(u.ID, u.ExternalID, u.UserName, u.DisplayName, u.NickName, u.ProfileURL, u.Title,
		u.UserType, u.PreferredLanguage, u.Locale, u.Timezone, u.Password)
	n += len(u.Schemas) * field
	for _, s := range u.Schemas {
		str(s)
	}
	if u.Meta != nil {
		str(u.Meta.ResourceType, u.Meta.Created, u.Meta.LastModified, u.Meta.Location, u.Meta.Version)
	}
	if u.Name != nil {
		str(u.Name.Formatted, u.Name.FamilyName, u.Name.GivenName, u.Name.MiddleName, u.Name.HonorificPrefix, u.Name.HonorificSuffix)
	}
	for _, l := range [][]schemas.MultiValued{u.Emails, u.PhoneNumbers, u.IMs, u.Photos, u.Groups, u.Entitlements, u.Roles, u.X509Certificates} {
		for _, m := range l {
			n += 4 * field
			str(m.Value, m.Display, m.Type, m.Ref)
		}
	}
	for _, a := range u.Addresses {
		n += 4 * field
		str(a.Formatted, a.StreetAddress, a.Locality, a.Region, a.PostalCode, a.Country, a.Type)
	}
	if e := u.Enterprise; e != nil {
		str(e.EmployeeNumber, e.CostCenter, e.Organization, e.Division, e.Department)
		if e.Manager != nil {
			str(e.Manager.Value, e.Manager.Ref, e.Manager.DisplayName)
		}
	}
	if f := u.Ferry; f != nil {
		n += 8 * field
		str(f.Provider, f.SourceID, f.Connection, f.PasswordHash, f.PasswordHashAlg)
		for _, id := range f.Identities {
			raw(id)
		}
		for _, r := range [][]byte{f.AppMetadata, f.UserMetadata, f.Attributes, f.CustomPasswordHash, f.MFAFactors, f.Extra} {
			raw(r)
		}
	}
	return n
}

// signupPolicy checks user_metadata against the Authentication API signup limits.
type signupPolicy struct{}

var _ Policy = (*signupPolicy)(nil)

func (p *signupPolicy) Name() string { return RuleSignupLimits }

func (p *signupPolicy) Apply(u *schemas.User, c *Changes) error {
	raw := blobRaw(u, blobUser)
	if isEmptyJSON(raw) {
		return nil
	}
	root, err := mdParse(raw)
	if err != nil {
		return &Rejection{Rule: RuleMetadataJSON, Path: blobNames[blobUser], Msg: err.Error()}
	}
	if root.kind != mdObject {
		return &Rejection{Rule: RuleSignupLimits, Path: blobNames[blobUser], Msg: "must be an object for signup"}
	}
	if len(root.obj) > signupMaxFields {
		return &Rejection{Rule: RuleSignupLimits, Path: blobNames[blobUser], Msg: fmt.Sprintf("%d fields: signup accepts at most %d", len(root.obj), signupMaxFields)}
	}
	for _, m := range root.obj {
		path := pathKey(blobNames[blobUser], m.key)
		if m.val.kind != mdString {
			return &Rejection{Rule: RuleSignupLimits, Path: path, Msg: "is " + m.val.kind.String() + ": signup accepts only strings"}
		}
		if n := utf8.RuneCountInString(m.val.s); n > signupMaxLen {
			return &Rejection{Rule: RuleSignupLimits, Path: path, Msg: fmt.Sprintf("%d characters: signup accepts at most %d", n, signupMaxLen)}
		}
	}
	return nil
}

// CheckClientMetadata checks an application's client_metadata against Auth0's limits: at
// most 10 keys, string values, keys and values of at most 255 characters, and no
// characters outside ASCII (Auth0: "cannot contain UTF-8 special characters").
func CheckClientMetadata(raw []byte) error {
	if isEmptyJSON(raw) {
		return nil
	}
	v, err := mdParse(raw)
	if err != nil {
		return &FieldError{Field: "client_metadata", Msg: err.Error()}
	}
	if v.kind != mdObject {
		return &FieldError{Field: "client_metadata", Msg: "must be a JSON object, is " + v.kind.String()}
	}
	if len(v.obj) > clientMetadataMaxKeys {
		return &FieldError{Field: "client_metadata", Msg: fmt.Sprintf("%d keys: at most %d", len(v.obj), clientMetadataMaxKeys)}
	}
	for _, m := range v.obj {
		f := pathKey("client_metadata", m.key)
		switch {
		case m.val.kind != mdString:
			return &FieldError{Field: f, Msg: "is " + m.val.kind.String() + ": values must be strings"}
		case len(m.key) > clientMetadataMaxLen || len(m.val.s) > clientMetadataMaxLen:
			return &FieldError{Field: f, Msg: fmt.Sprintf("keys and values are at most %d characters", clientMetadataMaxLen)}
		case !isASCII(m.key) || !isASCII(m.val.s):
			return &FieldError{Field: f, Msg: "contains characters outside ASCII"}
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
