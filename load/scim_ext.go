package load

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

var _ core.ExtensionTarget = (*SCIM)(nil)

// ErrExtensionUndeclared is the refusal of a run whose users carry a schema extension the
// target does not declare, when dropping it was not asked for (exit 3).
var ErrExtensionUndeclared = fmt.Errorf("the target does not declare a schema extension the users carry: %w", core.ErrAborted)

// Undeclared implements core.ExtensionTarget: the custom extensions among urns the
// provider does not declare for Users (its /ResourceTypes schemaExtensions, else its
// /Schemas). A provider that publishes no schemas declares nothing ferry can check: nil.
func (s *SCIM) Undeclared(urns []string) []string {
	if s.declared == nil {
		return nil
	}
	var out []string
	for _, urn := range urns {
		if schemas.IsExtensionURN(urn) && !s.declared[strings.ToLower(urn)] &&
			!slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, urn) }) {
			out = append(out, urn)
		}
	}
	return out
}

// undeclaredOf lists the URNs of the custom extension data u carries that the provider
// does not declare.
func (s *SCIM) undeclaredOf(u *schemas.User) []string {
	if s.declared == nil || len(u.Extensions) == 0 {
		return nil
	}
	var out []string
	for _, e := range u.Extensions {
		if !s.declared[strings.ToLower(e.URN)] {
			out = append(out, e.URN)
		}
	}
	return out
}

// stripUndeclared takes out of c (a copy being prepared for sending) the custom extensions
// the provider does not declare, data and schemas entries both: the change log has their
// values (Losses).
// A URN listed with no data is left out of schemas too (a strict provider refuses a
// schema it does not know; nothing is lost).
func (s *SCIM) stripUndeclared(c *schemas.User) {
	if !s.listsUndeclared(c) {
		return
	}
	gone := func(urn string) bool { return schemas.IsExtensionURN(urn) && !s.declared[strings.ToLower(urn)] }
	c.Extensions = slices.DeleteFunc(slices.Clone(c.Extensions), func(e schemas.Extension) bool { return gone(e.URN) })
	c.Schemas = slices.DeleteFunc(slices.Clone(c.Schemas), gone)
}

// listsUndeclared reports whether u has data under, or lists in schemas, a custom
// extension the provider does not declare.
func (s *SCIM) listsUndeclared(u *schemas.User) bool {
	if s.declared == nil {
		return false
	}
	if len(s.undeclaredOf(u)) > 0 {
		return true
	}
	for _, urn := range u.Schemas {
		if schemas.IsExtensionURN(urn) && !s.declared[strings.ToLower(urn)] {
			return true
		}
	}
	return false
}

// refuseUndeclared stops the run at a batch holding a user with an undeclared extension
// unless dropping was asked for. The migrate preflight refuses before anything is written
// when it can know the extensions in advance (a SCIM source, a plan, a file it can scan);
// this is the guard for a source it cannot (stdin).
func (s *SCIM) refuseUndeclared(batch []core.Item) error {
	if s.dropUnknown || s.declared == nil {
		return nil
	}
	for i := range batch {
		if u := batch[i].User; u != nil {
			if urns := s.undeclaredOf(u); len(urns) > 0 {
				return fmt.Errorf("scim: user %s carries %s: %w (rerun with --drop-unknown-extensions to write users without it; the change log keeps the values)",
					batch[i].Ref, strings.Join(urns, ", "), ErrExtensionUndeclared)
			}
		}
	}
	return nil
}

// learnHidden marks the attributes the provider does not return in a read (returned
// "never" or "request", or mutability "writeOnly" in its /Schemas: a custom extension's
// PIN, say) as not kept, so
// that an --upsert re-run does not see every user as changed for want of them. A
// definition the strict parser refuses teaches nothing: the run learns from answers.
func (s *SCIM) learnHidden(raw []byte) {
	defs, err := schemas.ParseSchemas(raw)
	if err != nil {
		return
	}
	for _, d := range defs {
		if strings.EqualFold(d.ID, schemas.CoreGroupURN) {
			continue
		}
		prefix := ""
		if !strings.EqualFold(d.ID, schemas.CoreUserURN) {
			prefix = strings.ToLower(d.ID) + "."
		}
		for i := range d.Attributes {
			if a := &d.Attributes[i]; !a.ReturnedByDefault() {
				s.dropped.Store(prefix+strings.ToLower(a.Name), true)
				s.hidden.Store(prefix+strings.ToLower(a.Name), true)
			}
		}
	}
}
