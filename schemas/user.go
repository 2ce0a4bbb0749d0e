// Package schemas holds ferry's canonical user: the SCIM 2.0 core User (RFC 7643 §4.1),
// the enterprise extension (§4.3) and the ferry extension for provider data SCIM has no
// place for, plus the embedded schema definitions and the validator.
package schemas

import (
	"github.com/segmentio/encoding/json"
)

// Schema URNs. The ferry extension deliberately lives outside urn:ietf: (RFC 7643 §10.2
// reserves that namespace for registered schemas).
const (
	CoreUserURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	CoreGroupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	FerryUserURN      = "urn:ferry:params:scim:schemas:extension:ferry:1.0:User"
)

// User is the SCIM core User with the enterprise and ferry extensions. Field order follows
// RFC 7643 §4.1 so that encoded users read like the RFC's examples.
type User struct {
	Schemas    []string `json:"schemas"`
	ID         string   `json:"id,omitempty"`
	ExternalID string   `json:"externalId,omitempty"`
	Meta       *Meta    `json:"meta,omitempty"`

	UserName          string `json:"userName"`
	Name              *Name  `json:"name,omitempty"`
	DisplayName       string `json:"displayName,omitempty"`
	NickName          string `json:"nickName,omitempty"`
	ProfileURL        string `json:"profileUrl,omitempty"`
	Title             string `json:"title,omitempty"`
	UserType          string `json:"userType,omitempty"`
	PreferredLanguage string `json:"preferredLanguage,omitempty"`
	Locale            string `json:"locale,omitempty"`
	Timezone          string `json:"timezone,omitempty"`
	Active            *bool  `json:"active,omitempty"`
	// Password is write-only in SCIM (returned: never); ferry carries a clear-text password
	// only when a source hands one over, and never logs it.
	Password string `json:"password,omitempty"`

	Emails           []MultiValued `json:"emails,omitempty"`
	PhoneNumbers     []MultiValued `json:"phoneNumbers,omitempty"`
	IMs              []MultiValued `json:"ims,omitempty"`
	Photos           []MultiValued `json:"photos,omitempty"`
	Addresses        []Address     `json:"addresses,omitempty"`
	Groups           []MultiValued `json:"groups,omitempty"`
	Entitlements     []MultiValued `json:"entitlements,omitempty"`
	Roles            []MultiValued `json:"roles,omitempty"`
	X509Certificates []MultiValued `json:"x509Certificates,omitempty"`

	Enterprise *EnterpriseUser `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Ferry      *FerryUser      `json:"urn:ferry:params:scim:schemas:extension:ferry:1.0:User,omitempty"`

	// Extensions hold the data of every other schema extension (an Okta, Entra ID or
	// in-house URN), in the order the record had them. ferry has no Go type for them and
	// keeps each value as the raw JSON object it read, so a backup gives it back byte for
	// byte. The SCIM encoder writes them after the ferry extension.
	Extensions []Extension `json:"-"`
}

// Extension is one schema extension's data under its URN (RFC 7643 §3.3).
type Extension struct {
	URN  string
	Data json.RawMessage // a JSON object, compact, as read
}

// Extension returns the data u carries under urn (compared case-insensitively, as SCIM
// compares URNs in attribute names), if any.
func (u *User) Extension(urn string) (json.RawMessage, bool) {
	for _, e := range u.Extensions {
		if equalFoldASCII(e.URN, urn) {
			return e.Data, true
		}
	}
	return nil, false
}

// IsBuiltinURN reports whether urn is one of the schemas ferry has a Go type for (core,
// enterprise, ferry): every other URN's data goes to Extensions.
func IsBuiltinURN(urn string) bool {
	return equalFoldASCII(urn, CoreUserURN) || equalFoldASCII(urn, EnterpriseUserURN) || equalFoldASCII(urn, FerryUserURN)
}

// Meta is the common "meta" attribute (RFC 7643 §3.1).
type Meta struct {
	ResourceType string `json:"resourceType,omitempty"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

// Name is the complex "name" attribute.
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// MultiValued is the shape shared by emails, phoneNumbers, ims, photos, groups,
// entitlements, roles and x509Certificates (RFC 7643 §2.4).
type MultiValued struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
	Ref     string `json:"$ref,omitempty"`
}

// Address is the complex "addresses" sub-attribute set (RFC 7643 §4.1.2).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	Primary       bool   `json:"primary,omitempty"`
}

// EnterpriseUser is the enterprise extension (RFC 7643 §4.3).
type EnterpriseUser struct {
	EmployeeNumber string   `json:"employeeNumber,omitempty"`
	CostCenter     string   `json:"costCenter,omitempty"`
	Organization   string   `json:"organization,omitempty"`
	Division       string   `json:"division,omitempty"`
	Department     string   `json:"department,omitempty"`
	Manager        *Manager `json:"manager,omitempty"`
}

// Manager is the enterprise "manager" attribute.
type Manager struct {
	Value       string `json:"value,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// FerryUser carries what SCIM has no attribute for, so that a provider -> SCIM -> provider
// round trip gives back the record it started from. Free-form metadata stays raw JSON until
// a policy needs to look inside (decoding every map is the dominant cost otherwise).
type FerryUser struct {
	// Provider is where the record came from (auth0, appid, appid-cd, scim, oidc).
	Provider string `json:"provider,omitempty"`
	// SourceID is the user's id in the source tenant (Auth0 "provider|id", App ID GUID).
	SourceID string `json:"sourceId,omitempty"`
	// Connection is the Auth0 connection (or App ID identity provider) the user belongs to.
	Connection string `json:"connection,omitempty"`

	EmailVerified *bool `json:"emailVerified,omitempty"`
	PhoneVerified *bool `json:"phoneVerified,omitempty"`

	// Identities are the linked identities as the provider returned them, opaque: providers
	// nest profile data differently and a re-link needs them verbatim.
	Identities []json.RawMessage `json:"identities,omitempty"`

	AppMetadata  json.RawMessage `json:"appMetadata,omitempty"`
	UserMetadata json.RawMessage `json:"userMetadata,omitempty"`
	// Attributes are App ID custom profile attributes.
	Attributes json.RawMessage `json:"attributes,omitempty"`

	// PasswordHash and its algorithm (bcrypt, or an App ID / Auth0 custom hash description).
	// Secret: redacted from rejects, change logs and every message.
	PasswordHash       string          `json:"passwordHash,omitempty"`
	PasswordHashAlg    string          `json:"passwordHashAlg,omitempty"`
	CustomPasswordHash json.RawMessage `json:"customPasswordHash,omitempty"`
	MFAFactors         json.RawMessage `json:"mfaFactors,omitempty"`

	// Extra holds every other provider field, keyed by the provider's own name, so nothing
	// the source returned is lost (created_at, last_login, logins_count, multifactor, ...).
	Extra json.RawMessage `json:"extra,omitempty"`
}

// HasSchema reports whether urn is listed in u.Schemas.
func (u *User) HasSchema(urn string) bool {
	for _, s := range u.Schemas {
		if s == urn {
			return true
		}
	}
	return false
}

// EnsureSchemas lists exactly the URNs of the extensions u carries, core first.
func (u *User) EnsureSchemas() {
	want := []string{CoreUserURN}
	if u.Enterprise != nil {
		want = append(want, EnterpriseUserURN)
	}
	if u.Ferry != nil {
		want = append(want, FerryUserURN)
	}
	for _, s := range u.Schemas {
		if s != CoreUserURN && s != EnterpriseUserURN && s != FerryUserURN {
			want = append(want, s)
		}
	}
	for _, e := range u.Extensions {
		if !hasFold(want, e.URN) {
			want = append(want, e.URN)
		}
	}
	u.Schemas = want
}

func hasFold(list []string, s string) bool {
	for _, x := range list {
		if equalFoldASCII(x, s) {
			return true
		}
	}
	return false
}

// PrimaryEmail returns the primary email, or the first one.
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// Ref names the user in messages: userName, else the source id.
func (u *User) Ref() string {
	if u.UserName != "" {
		return u.UserName
	}
	if u.Ferry != nil && u.Ferry.SourceID != "" {
		return u.Ferry.SourceID
	}
	return u.ID
}
