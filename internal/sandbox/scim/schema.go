package scim

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/segmentio/encoding/json"
)

// URNs of the SCIM protocol messages and core schemas (RFC 7643, RFC 7644).
const (
	UserURN         = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ListURN         = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	ErrorURN        = "urn:ietf:params:scim:api:messages:2.0:Error"
	PatchURN        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	BulkReqURN      = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	BulkRespURN     = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	SearchURN       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	SPConfigURN     = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResourceTypeURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaURN       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// builtinSchemas is RFC 7643 §8.7.1's User and Enterprise User representation with the
// RFC's two known defects fixed: addresses.primary added, x509Certificates.value caseExact.
//
//go:embed schemas.json
var builtinSchemas []byte

// attr is one attribute definition (RFC 7643 §7).
type attr struct {
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	MultiValued     bool     `json:"multiValued"`
	Required        bool     `json:"required"`
	CaseExact       bool     `json:"caseExact"`
	Mutability      string   `json:"mutability"`
	Returned        string   `json:"returned"`
	Uniqueness      string   `json:"uniqueness"`
	CanonicalValues []string `json:"canonicalValues"`
	SubAttributes   []*attr  `json:"subAttributes"`
}

// sub finds a sub-attribute case-insensitively (attribute names are case-insensitive,
// RFC 7643 §2.1).
func (a *attr) sub(name string) *attr {
	return findAttr(a.SubAttributes, name)
}

func findAttr(list []*attr, name string) *attr {
	for _, s := range list {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// schema is one schema definition.
type schema struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Attributes []*attr `json:"attributes"`
	raw        json.RawMessage
}

// schemaSet is every schema the server knows: the core User and its extensions.
type schemaSet struct {
	core *schema
	ext  []*schema // extensions, in the order given
}

// commonAttrs are the attributes every resource has (RFC 7643 §3.1), which the schema
// representations leave out.
var commonAttrs = []*attr{
	{Name: "id", Type: "string", CaseExact: true, Mutability: "readOnly", Returned: "always", Uniqueness: "server"},
	{Name: "externalId", Type: "string", CaseExact: true, Mutability: "readWrite"},
	{Name: "meta", Type: "complex", Mutability: "readOnly", SubAttributes: []*attr{
		{Name: "resourceType", Type: "string", CaseExact: true, Mutability: "readOnly"},
		{Name: "created", Type: "dateTime", Mutability: "readOnly"},
		{Name: "lastModified", Type: "dateTime", Mutability: "readOnly"},
		{Name: "location", Type: "reference", CaseExact: true, Mutability: "readOnly"},
		{Name: "version", Type: "string", CaseExact: true, Mutability: "readOnly"},
	}},
}

// loadSchemas parses schema representations. The core User schema must be among them;
// every other schema is an extension of User.
func loadSchemas(raws, more []json.RawMessage) (*schemaSet, error) {
	if len(raws) == 0 {
		var list []json.RawMessage
		if err := json.Unmarshal(builtinSchemas, &list); err != nil {
			return nil, fmt.Errorf("scim: built-in schemas: %w", err)
		}
		raws = list
	}
	raws = append(raws[:len(raws):len(raws)], more...)
	set := &schemaSet{}
	for i, raw := range raws {
		s := &schema{}
		if err := json.Unmarshal(raw, s); err != nil {
			return nil, fmt.Errorf("scim: schema %d: %w", i, err)
		}
		if s.ID == "" {
			return nil, fmt.Errorf("scim: schema %d has no id", i)
		}
		s.raw = append(json.RawMessage(nil), raw...)
		if s.ID != UserURN && set.extension(s.ID) != nil {
			return nil, fmt.Errorf("scim: schema %s given twice", s.ID)
		}
		if s.ID == UserURN {
			set.core = s
		} else {
			set.ext = append(set.ext, s)
		}
	}
	if set.core == nil {
		return nil, fmt.Errorf("scim: schemas lack %s", UserURN)
	}
	return set, nil
}

// extension returns the extension schema with the URN, case-insensitively.
func (ss *schemaSet) extension(urn string) *schema {
	for _, s := range ss.ext {
		if strings.EqualFold(s.ID, urn) {
			return s
		}
	}
	return nil
}

// hidden reports whether a's value is kept from every response (RFC 7643 §7: returned
// "never"; a writeOnly attribute is never returned either).
func (a *attr) hidden() bool {
	return strings.EqualFold(a.Returned, "never") || strings.EqualFold(a.Mutability, "writeOnly")
}

// top returns the definition of a top-level core or common attribute.
func (ss *schemaSet) top(name string) *attr {
	if a := findAttr(commonAttrs, name); a != nil {
		return a
	}
	return findAttr(ss.core.Attributes, name)
}
