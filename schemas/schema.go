package schemas

import (
	"github.com/segmentio/encoding/json"
)

// Attribute types (RFC 7643 §2.3).
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeDecimal   = "decimal"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeBinary    = "binary"
	TypeReference = "reference"
	TypeComplex   = "complex"
)

// Schema is a schema resource in the representation of RFC 7643 §7 and §8.7.1, as a SCIM
// service provider serves it at /Schemas.
type Schema struct {
	ID          string      `json:"id"`
	Name        string      `json:"name,omitempty"`
	Description string      `json:"description,omitempty"`
	Attributes  []Attribute `json:"attributes"`
	Meta        *Meta       `json:"meta,omitempty"`
}

// Attribute is one attribute definition (RFC 7643 §7). Absent characteristics take the
// RFC's defaults (caseExact false, mutability readWrite, returned default, uniqueness none).
//
// The RFC's own JSON omits some characteristics on some attributes and lists an empty
// canonicalValues on others; Attribute remembers which ones were present so that a
// definition marshals back exactly as it was written (a /Schemas endpoint then serves the
// RFC's text, not a paraphrase of it). CanonicalValues distinguishes nil (absent) from
// empty; caseExact's presence is tracked separately because its zero value is meaningful.
type Attribute struct {
	Name            string
	Type            string
	MultiValued     bool
	Description     string
	Required        bool
	CanonicalValues []string
	CaseExact       bool
	Mutability      string
	Returned        string
	Uniqueness      string
	SubAttributes   []Attribute
	ReferenceTypes  []string

	// caseExactSet records that caseExact was written out although false.
	caseExactSet bool
}

// attributeWire is Attribute's JSON form, with pointers where presence matters. Field order
// follows the RFC's examples.
type attributeWire struct {
	Name            string      `json:"name"`
	Type            string      `json:"type"`
	ReferenceTypes  []string    `json:"referenceTypes,omitempty"`
	MultiValued     bool        `json:"multiValued"`
	Description     string      `json:"description,omitempty"`
	Required        bool        `json:"required"`
	SubAttributes   []Attribute `json:"subAttributes,omitempty"`
	CaseExact       *bool       `json:"caseExact,omitempty"`
	CanonicalValues *[]string   `json:"canonicalValues,omitempty"`
	Mutability      string      `json:"mutability,omitempty"`
	Returned        string      `json:"returned,omitempty"`
	Uniqueness      string      `json:"uniqueness,omitempty"`
}

// MarshalJSON writes the RFC 7643 §7 form.
func (a Attribute) MarshalJSON() ([]byte, error) {
	w := attributeWire{
		Name: a.Name, Type: a.Type, ReferenceTypes: a.ReferenceTypes,
		MultiValued: a.MultiValued, Description: a.Description, Required: a.Required,
		SubAttributes: a.SubAttributes, Mutability: a.Mutability, Returned: a.Returned,
		Uniqueness: a.Uniqueness,
	}
	if a.CaseExact || a.caseExactSet {
		ce := a.CaseExact
		w.CaseExact = &ce
	}
	if a.CanonicalValues != nil {
		cv := a.CanonicalValues
		w.CanonicalValues = &cv
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the RFC 7643 §7 form.
func (a *Attribute) UnmarshalJSON(b []byte) error {
	var w attributeWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = Attribute{
		Name: w.Name, Type: w.Type, ReferenceTypes: w.ReferenceTypes,
		MultiValued: w.MultiValued, Description: w.Description, Required: w.Required,
		SubAttributes: w.SubAttributes, Mutability: w.Mutability, Returned: w.Returned,
		Uniqueness: w.Uniqueness,
	}
	if w.CaseExact != nil {
		a.CaseExact, a.caseExactSet = *w.CaseExact, true
	}
	if w.CanonicalValues != nil {
		a.CanonicalValues = *w.CanonicalValues
		if a.CanonicalValues == nil {
			a.CanonicalValues = []string{}
		}
	}
	return nil
}

// Sub returns the sub-attribute named name, matched case-insensitively (RFC 7643 §2.1).
func (a *Attribute) Sub(name string) (*Attribute, bool) {
	return findAttr(a.SubAttributes, name)
}

// Attr returns the attribute named name, matched case-insensitively (RFC 7643 §2.1).
func (s *Schema) Attr(name string) (*Attribute, bool) {
	return findAttr(s.Attributes, name)
}

func findAttr(list []Attribute, name string) (*Attribute, bool) {
	for i := range list {
		if equalFoldASCII(list[i].Name, name) {
			return &list[i], true
		}
	}
	return nil, false
}

// opaque reports whether a is a complex attribute whose content ferry keeps verbatim (the
// ferry extension's metadata): any JSON object is valid there.
func (a *Attribute) opaque() bool { return a.Type == TypeComplex && len(a.SubAttributes) == 0 }

func (a Attribute) clone() Attribute {
	c := a
	c.CanonicalValues = cloneStrings(a.CanonicalValues)
	c.ReferenceTypes = cloneStrings(a.ReferenceTypes)
	if a.SubAttributes != nil {
		c.SubAttributes = make([]Attribute, len(a.SubAttributes))
		for i := range a.SubAttributes {
			c.SubAttributes[i] = a.SubAttributes[i].clone()
		}
	}
	return c
}

func (s *Schema) clone() Schema {
	c := *s
	c.Attributes = make([]Attribute, len(s.Attributes))
	for i := range s.Attributes {
		c.Attributes[i] = s.Attributes[i].clone()
	}
	if s.Meta != nil {
		m := *s.Meta
		c.Meta = &m
	}
	return c
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}

// equalFoldASCII is strings.EqualFold for the ASCII attribute names and URNs of SCIM; a
// non-ASCII byte must match exactly.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
