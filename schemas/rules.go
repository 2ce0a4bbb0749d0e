package schemas

import (
	"fmt"
	"strings"
	"time"
)

// The rules both validators share. They read the embedded definitions (canonical values,
// caseExact, which sub-attributes exist) rather than a hand-written copy, so a definition
// change cannot leave the validator behind.

// knownUserSchemas are the schema URNs a User may list.
var knownUserSchemas = []string{CoreUserURN, EnterpriseUserURN, FerryUserURN}

// extension is one schema extension a User may carry under its URN.
type extension struct {
	urn  string
	def  *Schema
	name string // for messages
	// required: check the definition's required attributes (a server's definition; the
	// built-in ones require none).
	required bool
}

// ReturnedByDefault reports whether a server includes a's value in an ordinary read
// (RFC 7643 §7): not when returned is "never" or "request" (only when asked for by name),
// nor for a writeOnly attribute (a password).
func (a *Attribute) ReturnedByDefault() bool {
	return !equalFoldASCII(a.Returned, "never") && !equalFoldASCII(a.Returned, "request") && !equalFoldASCII(a.Mutability, "writeOnly")
}

var (
	coreUser   = mustDef(CoreUserURN)
	extensions = []extension{
		{urn: EnterpriseUserURN, def: mustDef(EnterpriseUserURN), name: "enterprise"},
		{urn: FerryUserURN, def: mustDef(FerryUserURN), name: "ferry"},
	}
)

func mustDef(urn string) *Schema {
	s := lookupDef(urn)
	if s == nil {
		panic("schemas: no embedded definition of " + urn)
	}
	return s
}

func mustAttr(s *Schema, name string) *Attribute {
	a, ok := s.Attr(name)
	if !ok {
		panic("schemas: " + s.ID + " defines no attribute " + name)
	}
	return a
}

// commonAttrs are the attributes every resource has (RFC 7643 §3.1). The RFC defines them in
// prose, not in any schema's JSON, so they are written out here.
var commonAttrs = []Attribute{
	{Name: "id", Type: TypeString, CaseExact: true, Mutability: "readOnly", Returned: "always", Uniqueness: "server"},
	{Name: "externalId", Type: TypeString, CaseExact: true, Mutability: "readWrite", Returned: "default", Uniqueness: "none"},
	{Name: "meta", Type: TypeComplex, Mutability: "readOnly", Returned: "default", SubAttributes: []Attribute{
		{Name: "resourceType", Type: TypeString, CaseExact: true, Mutability: "readOnly"},
		{Name: "created", Type: TypeDateTime, Mutability: "readOnly"},
		{Name: "lastModified", Type: TypeDateTime, Mutability: "readOnly"},
		{Name: "location", Type: TypeReference, CaseExact: true, Mutability: "readOnly", ReferenceTypes: []string{"uri"}},
		{Name: "version", Type: TypeString, CaseExact: true, Mutability: "readOnly"},
	}},
}

// mvRule is what Validate needs to know about one multi-valued complex attribute, resolved
// from the definitions once.
type mvRule struct {
	attr       *Attribute
	name       string
	value      *Attribute // nil: entries have no "value" (addresses)
	typ        *Attribute // nil: entries have no "type"
	hasPrimary bool
	hasDisplay bool
	hasRef     bool
}

func newMVRule(s *Schema, name string) *mvRule {
	a := mustAttr(s, name)
	if !a.MultiValued || a.Type != TypeComplex {
		panic("schemas: " + name + " is not a multi-valued complex attribute")
	}
	r := &mvRule{attr: a, name: a.Name}
	r.value, _ = a.Sub("value")
	r.typ, _ = a.Sub("type")
	_, r.hasPrimary = a.Sub("primary")
	_, r.hasDisplay = a.Sub("display")
	_, r.hasRef = a.Sub("$ref")
	return r
}

var (
	ruleEmails           = newMVRule(coreUser, "emails")
	rulePhoneNumbers     = newMVRule(coreUser, "phoneNumbers")
	ruleIMs              = newMVRule(coreUser, "ims")
	rulePhotos           = newMVRule(coreUser, "photos")
	ruleAddresses        = newMVRule(coreUser, "addresses")
	ruleGroups           = newMVRule(coreUser, "groups")
	ruleEntitlements     = newMVRule(coreUser, "entitlements")
	ruleRoles            = newMVRule(coreUser, "roles")
	ruleX509Certificates = newMVRule(coreUser, "x509Certificates")
)

// canonical reports whether s is one of a's canonical values. An attribute without
// canonical values (or with the empty list the RFC gives roles.type) accepts anything.
// Comparison follows a's caseExact.
func canonical(a *Attribute, s string) bool {
	if len(a.CanonicalValues) == 0 {
		return true
	}
	for _, c := range a.CanonicalValues {
		if c == s || (!a.CaseExact && strings.EqualFold(c, s)) {
			return true
		}
	}
	return false
}

func notCanonicalMsg(a *Attribute, s string) string {
	return quote(s) + " is not a canonical value (" + strings.Join(a.CanonicalValues, ", ") + ")"
}

// Messages shared by both validators, so the two report a problem in the same words.
const (
	msgUserNameRequired = "required and must not be empty"
	msgBadUTF8          = "not valid UTF-8"
	msgEmptyValue       = "missing or empty: each entry of a multi-valued attribute needs a value"
	msgNotBase64        = "not base64 (binary, RFC 7643 §2.3.6)"
	msgCoreNotListed    = "does not list the core schema " + CoreUserURN
)

func secondPrimaryMsg(attr string, first int) string {
	return "a second primary value: " + idx(attr, first, "") + " is already primary (at most one may be)"
}

func extNotListedMsg(e *extension) string {
	return "does not list " + e.urn + " although the user carries " + e.name + " extension attributes"
}

func unknownSchemaMsg(urn string) string {
	return quote(urn) + " is not a User schema (" + strings.Join(knownUserSchemas, ", ") + ", or an extension's URN)"
}

func dupSchemaMsg(urn string, first int) string {
	return quote(urn) + " is listed twice (as schemas[" + fmt.Sprint(first) + "] too)"
}

func notSubAttrMsg(attr, sub string) string {
	return attr + " has no " + sub + " sub-attribute"
}

// checkSchemas applies the schemas rules: the core URN is listed, every extension the user
// carries is listed, no URN is listed twice, and every listed URN is a User schema: the
// known ones, or any other URN naming a schema extension (Okta, Entra ID and in-house SCIM
// tenants each have one). What is refused is what cannot be a User extension: a string that
// is no URN, another core resource's schema (Group), a protocol message's URN.
// carried[i] says whether extensions[i] is present, custom lists the URNs of the other
// extension data the user carries; bad[i] (if bad is not nil) that list[i] was reported
// already.
func checkSchemas(c *collector, list []string, bad []bool, carried [2]bool, custom []string) {
	var first [3]int // index+1 of each known URN's first listing
	for i, urn := range list {
		if bad != nil && bad[i] {
			continue
		}
		k := knownIndex(urn)
		switch {
		case k < 0:
			if msg := notExtensionMsg(urn); msg != "" {
				c.add(idx("schemas", i, ""), msg)
			} else if j := indexFold(list[:i], bad, urn); j >= 0 {
				c.add(idx("schemas", i, ""), dupSchemaMsg(urn, j))
			}
		case first[k] > 0:
			c.add(idx("schemas", i, ""), dupSchemaMsg(urn, first[k]-1))
		default:
			first[k] = i + 1
		}
	}
	if first[0] == 0 {
		c.add("schemas", msgCoreNotListed)
	}
	for i := range extensions {
		if carried[i] && first[i+1] == 0 {
			c.add("schemas", extNotListedMsg(&extensions[i]))
		}
	}
	for _, urn := range custom {
		if indexFold(list, bad, urn) < 0 {
			c.add(urn, msgExtDataNotListed)
		}
	}
}

// msgExtDataNotListed: RFC 7643 §3 makes schemas the list of every schema a resource's
// attributes come from, so data under an unlisted URN is a broken record, not an extension.
const msgExtDataNotListed = "extension data under this URN, but schemas does not list it"

// indexFold returns the index of the first entry of list equal to s (ASCII
// case-insensitively) that was not reported already, or -1.
func indexFold(list []string, bad []bool, s string) int {
	for j, x := range list {
		if (bad == nil || !bad[j]) && equalFoldASCII(x, s) {
			return j
		}
	}
	return -1
}

// notExtensionMsg says why a URN ferry has no definition for cannot be a User schema
// extension, or "" when it can be.
func notExtensionMsg(urn string) string {
	switch {
	case !hasPrefixFold(urn, "urn:") || len(urn) <= len("urn:"):
		return quote(urn) + " is not a schema URN (a User schema is named by a URN, RFC 7643 §3)"
	case hasPrefixFold(urn, "urn:ietf:params:scim:schemas:core:"), hasPrefixFold(urn, "urn:ietf:params:scim:api:"):
		return unknownSchemaMsg(urn)
	}
	return ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFoldASCII(s[:len(prefix)], prefix)
}

// IsExtensionURN reports whether key, a top-level attribute name of a User, names schema
// extension data ferry has no Go type for: a URN (attribute names cannot hold ':', RFC 7643
// §2.1) other than the built-in ones.
func IsExtensionURN(key string) bool {
	return len(key) > len("urn:") && hasPrefixFold(key, "urn:") && !IsBuiltinURN(key)
}

// knownIndex returns urn's index in knownUserSchemas, or -1.
func knownIndex(urn string) int {
	for k, known := range knownUserSchemas {
		if urn == known || equalFoldASCII(urn, known) {
			return k
		}
	}
	return -1
}

// blank reports whether s is empty or only white space, without allocating.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// validBase64 checks RFC 4648 §4 base64 (standard alphabet, padded) without decoding.
func validBase64(s string) bool {
	if len(s)%4 != 0 {
		return false
	}
	pad := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '=':
			pad++
			if i < len(s)-2 {
				return false
			}
		case pad > 0:
			return false
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '+', ch == '/':
		default:
			return false
		}
	}
	return true
}

// validDateTime checks an xsd:dateTime as SCIM uses it (RFC 7643 §2.3.5): RFC 3339 with a
// time zone.
func validDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

func notDateTimeMsg(s string) string {
	return quote(s) + " is not an xsd:dateTime (e.g. 2008-01-23T04:56:22Z)"
}
