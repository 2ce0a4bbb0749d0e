package transform

import (
	"strconv"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/redact"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// RuleTargetFormat names the changes that record what a target format cannot carry.
const RuleTargetFormat = "target-format"

// LossesFor returns the function listing the attribute paths of a user that format cannot
// carry, or nil when the format carries every attribute (SCIM, the App ID shapes carry the
// rest in the ferry extension's place).
func LossesFor(format string) func(*schemas.User) []string {
	switch format {
	case core.FormatAuth0Import:
		return Auth0ImportLosses
	case core.FormatAuth0:
		return Auth0Losses
	case core.FormatAppID:
		return AppIDLosses
	}
	return nil
}

// RuleTargetDropped names the changes that record what a target accepted and then did
// not keep (its answer to the write left the value out).
const RuleTargetDropped = "target-dropped"

// RecordLosses adds one change per lost path, holding the value it had, so the change log
// keeps what the target will not (secrets excepted: their value is never logged).
func RecordLosses(u *schemas.User, format string, paths []string, c *Changes) {
	recordLosses(u, paths, RuleTargetFormat, "the target ("+format+") has no place for this value", c)
}

// RecordDropped is RecordLosses for attributes the target accepted and did not keep.
func RecordDropped(u *schemas.User, paths []string, c *Changes) {
	recordLosses(u, paths, RuleTargetDropped, "the target accepted the user and answered without this value, or without part of it: it does not keep it", c)
}

func recordLosses(u *schemas.User, paths []string, rule, note string, c *Changes) {
	if len(paths) == 0 {
		return
	}
	// One generic decode per user with losses; users that lose nothing never pay for it.
	var doc map[string]any
	if b, err := json.Marshal(u); err == nil {
		json.Unmarshal(b, &doc)
	}
	for _, p := range paths {
		var v any = redact.Marker
		if data, ok := u.Extension(p); ok {
			// A whole custom extension: its data as read (json.Marshal of a User has no
			// place for it), secrets nested in it masked.
			v = nil
			if red, ok := redact.JSON(data); ok {
				v = json.RawMessage(red)
			}
		} else if !redact.IsSecretKey(lastSegment(p)) {
			v = redactedValue(valueAt(doc, p))
		}
		c.Add(rule, p, v, nil, note)
	}
}

// extensionLosses lists the custom extensions of u, for a target format that has no place
// for them (as it has none for the enterprise extension).
func extensionLosses(out []string, u *schemas.User) []string {
	for _, e := range u.Extensions {
		out = append(out, e.URN)
	}
	return out
}

// AppIDLosses lists what an App ID users/import item cannot carry that ferry's own
// extension does not keep either: custom schema extensions.
func AppIDLosses(u *schemas.User) []string { return extensionLosses(nil, u) }

var extensionURNs = []string{schemas.EnterpriseUserURN, schemas.FerryUserURN}

// valueAt resolves a path such as "emails[1]", "name.middleName" or
// "urn:...:ferry:1.0:User:extra.logins_count" in a generic decode of a user.
func valueAt(doc map[string]any, path string) any {
	var node any = doc
	rest := path
	for _, urn := range extensionURNs {
		if strings.HasPrefix(path, urn) {
			node = doc[urn]
			rest = strings.TrimPrefix(path[len(urn):], ":")
			break
		}
	}
	if rest == "" {
		return node
	}
	for _, seg := range strings.Split(rest, ".") {
		name, idx := seg, -1
		if i := strings.IndexByte(seg, '['); i >= 0 && strings.HasSuffix(seg, "]") {
			name = seg[:i]
			if n, err := strconv.Atoi(seg[i+1 : len(seg)-1]); err == nil {
				idx = n
			}
		}
		m, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = m[name]
		if idx >= 0 {
			arr, ok := node.([]any)
			if !ok || idx >= len(arr) {
				return nil
			}
			node = arr[idx]
		}
	}
	return node
}

// redactedValue masks secrets nested in a lost value (a whole ferry extension holds the
// password hash).
func redactedValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	if red, ok := redact.JSON(b); ok {
		return json.RawMessage(red)
	}
	return nil
}

func lastSegment(p string) string {
	if i := strings.LastIndexAny(p, ".:"); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.IndexByte(p, '['); i >= 0 {
		p = p[:i]
	}
	return p
}
