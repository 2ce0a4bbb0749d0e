package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/segmentio/encoding/json"
)

// The discovery documents a SCIM service provider serves (RFC 7644 §4): /Schemas (RFC 7643
// §7), /ResourceTypes (§6) and /ServiceProviderConfig (§5, with RFC 9865's pagination
// block). Servers differ in how they wrap them: a ListResponse (the RFC), a bare JSON array
// (several libraries), or a single resource (a server with one schema); the parsers take
// all three, and refuse what would mislead the validator: a schema without a URN id, an
// attribute without a name or of an unknown type.

// ErrDiscovery marks a discovery document ferry cannot use.
var ErrDiscovery = errors.New("scim discovery document")

// ResourceType is a resource type definition (RFC 7643 §6).
type ResourceType struct {
	ID               string            `json:"id,omitempty"`
	Name             string            `json:"name"`
	Endpoint         string            `json:"endpoint"`
	Schema           string            `json:"schema"`
	SchemaExtensions []SchemaExtension `json:"schemaExtensions,omitempty"`
}

// SchemaExtension is one extension a resource type admits (RFC 7643 §6).
type SchemaExtension struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

// ServiceProviderConfig is what ferry reads of a provider's configuration (RFC 7643 §5;
// pagination: RFC 9865 §4).
type ServiceProviderConfig struct {
	Patch Supported `json:"patch"`
	Bulk  struct {
		Supported      bool `json:"supported"`
		MaxOperations  int  `json:"maxOperations"`
		MaxPayloadSize int  `json:"maxPayloadSize"`
	} `json:"bulk"`
	Filter struct {
		Supported  bool `json:"supported"`
		MaxResults int  `json:"maxResults"`
	} `json:"filter"`
	Sort       Supported   `json:"sort"`
	Etag       Supported   `json:"etag"`
	Pagination *Pagination `json:"pagination,omitempty"`
}

// Supported is the {"supported": bool} shape of several configuration members.
type Supported struct {
	Supported bool `json:"supported"`
}

// Pagination is RFC 9865's pagination block. Index is a pointer: absent means a server
// that predates RFC 9865 and pages by index, as RFC 7644 requires.
type Pagination struct {
	Cursor                  bool   `json:"cursor"`
	Index                   *bool  `json:"index,omitempty"`
	DefaultPaginationMethod string `json:"defaultPaginationMethod,omitempty"`
	DefaultPageSize         int    `json:"defaultPageSize,omitempty"`
	MaxPageSize             int    `json:"maxPageSize,omitempty"`
	CursorTimeout           int    `json:"cursorTimeout,omitempty"`
}

// ParseServiceProviderConfig reads a /ServiceProviderConfig document.
func ParseServiceProviderConfig(body []byte) (*ServiceProviderConfig, error) {
	var c ServiceProviderConfig
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: ServiceProviderConfig: %v", ErrDiscovery, err)
	}
	if c.Bulk.MaxOperations < 0 || c.Bulk.MaxPayloadSize < 0 || c.Filter.MaxResults < 0 {
		return nil, fmt.Errorf("%w: ServiceProviderConfig: a negative limit", ErrDiscovery)
	}
	if p := c.Pagination; p != nil && (p.MaxPageSize < 0 || p.DefaultPageSize < 0 || p.CursorTimeout < 0) {
		return nil, fmt.Errorf("%w: ServiceProviderConfig: a negative pagination limit", ErrDiscovery)
	}
	return &c, nil
}

// resources returns the resources of a discovery answer: a ListResponse's Resources, a
// bare array's elements, or the one resource an object is.
func resources(body []byte, what string) ([]json.RawMessage, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s: empty", ErrDiscovery, what)
	}
	var list []json.RawMessage
	switch b[0] {
	case '[':
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrDiscovery, what, err)
		}
	case '{':
		var l struct {
			Resources *[]json.RawMessage `json:"Resources"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrDiscovery, what, err)
		}
		if l.Resources != nil {
			list = *l.Resources
		} else {
			list = []json.RawMessage{b}
		}
	default:
		return nil, fmt.Errorf("%w: %s: not a JSON object or array", ErrDiscovery, what)
	}
	return list, nil
}

// ParseSchemas reads a /Schemas answer. Attribute types are matched case-insensitively
// and written the RFC's way ("String" becomes "string"); characteristics keep the RFC's
// defaults when absent (RFC 7643 §2.2).
func ParseSchemas(body []byte) ([]Schema, error) {
	list, err := resources(body, "Schemas")
	if err != nil {
		return nil, err
	}
	out := make([]Schema, 0, len(list))
	for i, raw := range list {
		var s Schema
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: Schemas[%d]: %v", ErrDiscovery, i, err)
		}
		if !hasPrefixFold(s.ID, "urn:") || len(s.ID) <= len("urn:") {
			return nil, fmt.Errorf("%w: Schemas[%d]: id %s is not a URN", ErrDiscovery, i, quote(s.ID))
		}
		if err := normalizeAttrs(s.Attributes, 0); err != nil {
			return nil, fmt.Errorf("%w: schema %s: %v", ErrDiscovery, quote(s.ID), err)
		}
		out = append(out, s)
	}
	return out, nil
}

var attrTypes = []string{TypeString, TypeBoolean, TypeDecimal, TypeInteger, TypeDateTime, TypeBinary, TypeReference, TypeComplex}

// maxSubDepth: RFC 7643 §2.3.8 forbids sub-attributes of sub-attributes; a server that
// nests them anyway is read one level further, and deeper nesting is refused rather than
// walked without bound.
const maxSubDepth = 2

func normalizeAttrs(list []Attribute, depth int) error {
	if depth > maxSubDepth {
		return errors.New("sub-attributes nested deeper than RFC 7643 §2.3.8 allows")
	}
	for i := range list {
		a := &list[i]
		if strings.TrimSpace(a.Name) == "" || strings.ContainsAny(a.Name, ": ") {
			return fmt.Errorf("attribute name %s is not an attribute name (RFC 7643 §2.1)", quote(a.Name))
		}
		t := ""
		for _, known := range attrTypes {
			if equalFoldASCII(a.Type, known) {
				t = known
			}
		}
		if t == "" {
			return fmt.Errorf("attribute %s: type %s is not one of RFC 7643 §2.3 (%s)", quote(a.Name), quote(a.Type), strings.Join(attrTypes, ", "))
		}
		a.Type = t
		if err := normalizeAttrs(a.SubAttributes, depth+1); err != nil {
			return fmt.Errorf("attribute %s: %w", quote(a.Name), err)
		}
	}
	return nil
}

// ParseResourceTypes reads a /ResourceTypes answer.
func ParseResourceTypes(body []byte) ([]ResourceType, error) {
	list, err := resources(body, "ResourceTypes")
	if err != nil {
		return nil, err
	}
	out := make([]ResourceType, 0, len(list))
	for i, raw := range list {
		var rt ResourceType
		if err := json.Unmarshal(raw, &rt); err != nil {
			return nil, fmt.Errorf("%w: ResourceTypes[%d]: %v", ErrDiscovery, i, err)
		}
		if !hasPrefixFold(rt.Schema, "urn:") {
			return nil, fmt.Errorf("%w: ResourceTypes[%d]: schema %s is not a URN", ErrDiscovery, i, quote(rt.Schema))
		}
		for j, e := range rt.SchemaExtensions {
			if !hasPrefixFold(e.Schema, "urn:") {
				return nil, fmt.Errorf("%w: ResourceTypes[%d].schemaExtensions[%d]: schema %s is not a URN", ErrDiscovery, i, j, quote(e.Schema))
			}
		}
		out = append(out, rt)
	}
	return out, nil
}

// UserExtensions returns the schema extensions the User resource type admits, or false
// when the list holds no User resource type.
func UserExtensions(rts []ResourceType) ([]SchemaExtension, bool) {
	for _, rt := range rts {
		if equalFoldASCII(rt.Schema, CoreUserURN) {
			return rt.SchemaExtensions, true
		}
	}
	return nil, false
}
