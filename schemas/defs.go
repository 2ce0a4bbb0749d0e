package schemas

import (
	"embed"
	"fmt"

	"github.com/segmentio/encoding/json"
)

// The definitions are the RFC 7643 §8.7.1 text, corrected for its two known defects
// (addresses.primary is missing; x509Certificates.value is not caseExact although a
// certificate's base64 is), plus the ferry extension. defs_test.go checks them against the
// RFC's JSON.
//
//go:embed defs/*.json
var defsFS embed.FS

// defFiles lists the embedded definitions in the order /Schemas serves them.
var defFiles = []string{
	"defs/user.json",
	"defs/group.json",
	"defs/enterprise_user.json",
	"defs/ferry_user.json",
}

// defs are parsed once; callers only ever see copies.
var defs = mustLoadDefs()

func mustLoadDefs() []Schema {
	out := make([]Schema, 0, len(defFiles))
	for _, name := range defFiles {
		b, err := defsFS.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("schemas: embedded %s: %v", name, err))
		}
		var s Schema
		if err := json.Unmarshal(b, &s); err != nil {
			panic(fmt.Sprintf("schemas: embedded %s: %v", name, err))
		}
		out = append(out, s)
	}
	return out
}

// Definitions returns the schema definitions ferry knows (core User, core Group, enterprise
// User, ferry User), ready to be served at /Schemas. The result is a copy the caller may
// change.
func Definitions() []Schema {
	out := make([]Schema, len(defs))
	for i := range defs {
		out[i] = defs[i].clone()
	}
	return out
}

// Lookup returns a copy of the definition of the schema urn (matched case-insensitively).
func Lookup(urn string) (*Schema, bool) {
	s := lookupDef(urn)
	if s == nil {
		return nil, false
	}
	c := s.clone()
	return &c, true
}

// lookupDef returns the shared definition, which must not be changed.
func lookupDef(urn string) *Schema {
	for i := range defs {
		if equalFoldASCII(defs[i].ID, urn) {
			return &defs[i]
		}
	}
	return nil
}
