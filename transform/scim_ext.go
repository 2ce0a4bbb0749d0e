package transform

import (
	"bytes"
	// encoding/json for Compact: segmentio has no compaction that leaves the bytes
	// otherwise alone (its encoder also escapes HTML, which would change the data).
	stdjson "encoding/json"

	"github.com/ferry-dev/ferry/internal/jsonw"
	"github.com/ferry-dev/ferry/schemas"
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
