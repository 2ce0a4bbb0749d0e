package transform

import (
	"bytes"
	// encoding/json for Compact: segmentio has no compaction that leaves the bytes
	// otherwise alone (its encoder also escapes HTML, which would change the data).
	stdjson "encoding/json"

	"github.com/ferry-dev/ferry/internal/jsonw"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// splitExtensions takes the data of custom schema extensions (any URN but core, enterprise
// and ferry: Okta, Entra ID, in-house) out of a SCIM record: it returns the record without
// them, for the strict decode of the attributes ferry has types for, and each extension's
// data as raw JSON, kept byte for byte (but for insignificant white space, which an NDJSON
// line cannot hold). found is false when the record has none; a record with a duplicate
// key is left to the strict decode to report. The data must be an object (RFC 7643 §3.3);
// null is an unassigned extension and is left out.
func splitExtensions(raw []byte) (rest []byte, exts []schemas.Extension, found bool, err error) {
	m := newMembers(raw, "")
	for m.next() {
		if schemas.IsExtensionURN(string(m.Key)) {
			found = true
			break
		}
	}
	if !found || m.err != nil {
		return nil, nil, false, nil
	}
	rest = make([]byte, 0, len(raw))
	rest = append(rest, '{')
	for m = newMembers(raw, ""); m.next(); {
		if !schemas.IsExtensionURN(string(m.Key)) {
			if len(rest) > 1 {
				rest = append(rest, ',')
			}
			rest = append(append(append(rest, m.RawKey...), ':'), m.Val...)
			continue
		}
		v := m.Val
		switch {
		case isNull(v):
			continue
		case len(v) == 0 || v[0] != '{':
			return nil, nil, true, &FieldError{Field: string(m.Key), Msg: "expected object (extension data), got " + jsonKind(v)}
		}
		exts = append(exts, schemas.Extension{URN: string(m.Key), Data: compactCopy(v)})
	}
	if m.err != nil {
		return nil, nil, false, nil
	}
	return append(rest, '}'), exts, true, nil
}

// decodeWithExtensions decodes raw into u strictly, its custom extension data taken out
// into u.Extensions; found is false (and u untouched) when it has none. rest is what
// follows the record, for the caller's trailing-data check.
func decodeWithExtensions(raw []byte, u *schemas.User) (rest []byte, found bool, err error) {
	// The split scanner trusts its input (found by FuzzDecodeSCIM: {"urn:"{0 passed).
	if !json.Valid(raw) {
		return nil, false, nil
	}
	core, exts, found, err := splitExtensions(raw)
	if err != nil || !found {
		return nil, found, err
	}
	if _, err = json.Parse(core, u, json.DisallowUnknownFields); err != nil {
		return nil, true, err
	}
	u.Extensions = exts
	return raw[skipValue(raw, skipWS(raw, 0)):], true, nil
}

// listsCustomURN reports whether raw's first member is a schemas array naming a custom
// extension (the SCIM encoder writes schemas first, as do servers): such a record carries
// extension data, and is best split before the strict decode rather than after it fails.
// It looks at bytes only: it runs on every SCIM record.
func listsCustomURN(raw []byte) bool {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipWS(raw, i+1)
	const key = `"schemas"`
	if !bytes.HasPrefix(raw[i:], []byte(key)) {
		return false
	}
	i = skipWS(raw, i+len(key))
	if i >= len(raw) || raw[i] != ':' {
		return false
	}
	i = skipWS(raw, i+1)
	if i >= len(raw) || raw[i] != '[' {
		return false
	}
	for e := newElements(raw[i:skipValue(raw, i)]); e.next(); {
		v := e.Val
		if len(v) > 2 && v[0] == '"' && v[len(v)-1] == '"' && isCustomURN(v[1:len(v)-1]) {
			return true
		}
	}
	return false
}

var (
	urnPrefix   = []byte("urn:")
	builtinURNs = [][]byte{[]byte(schemas.CoreUserURN), []byte(schemas.EnterpriseUserURN), []byte(schemas.FerryUserURN)}
)

// isCustomURN is schemas.IsExtensionURN on bytes, allocation-free.
func isCustomURN(b []byte) bool {
	if len(b) <= len(urnPrefix) || !bytes.EqualFold(b[:len(urnPrefix)], urnPrefix) {
		return false
	}
	for _, u := range builtinURNs {
		if bytes.EqualFold(b, u) {
			return false
		}
	}
	return true
}

// compactCopy copies a valid JSON value, removing white space outside strings only when
// there is any: everything else (key order, escapes, number forms) stays as written.
func compactCopy(v []byte) []byte {
	if bytes.IndexAny(v, " \t\r\n") >= 0 {
		var b bytes.Buffer
		if stdjson.Compact(&b, v) == nil {
			return b.Bytes()
		}
	}
	return append([]byte(nil), v...)
}

// appendExtensions writes the custom extensions after the built-in ones, in the order the
// record had them, their data verbatim.
func appendExtensions(b []byte, exts []schemas.Extension) []byte {
	for _, e := range exts {
		b = append(b, ',')
		b = jsonw.AppendHTMLString(b, e.URN)
		b = append(b, ':')
		if len(e.Data) == 0 {
			b = append(b, "null"...)
			continue
		}
		b = append(b, e.Data...)
	}
	return b
}

// ExtensionURNs lists the custom extension URNs a raw SCIM record has data under (null
// excepted), from its top-level member names alone.
func ExtensionURNs(raw []byte) []string {
	var out []string
	for m := newMembers(raw, ""); m.next(); {
		if schemas.IsExtensionURN(string(m.Key)) && !isNull(m.Val) {
			out = append(out, string(m.Key))
		}
	}
	return out
}
