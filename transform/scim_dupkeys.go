package transform

import (
	"bytes"
	"strconv"

	"github.com/ferry-dev/ferry/schemas"
)

// scimRawMembers are the ferry extension members that hold a provider's JSON as it came
// (metadata, identities): the policies check those, exact-case, when they look inside.
var scimRawMembers = [][]byte{[]byte("appMetadata"), []byte("userMetadata"), []byte("attributes"),
	[]byte("extra"), []byte("identities"), []byte("customPasswordHash"), []byte("mfaFactors")}

func isRawMember(k []byte) bool {
	for _, n := range scimRawMembers {
		if bytes.EqualFold(k, n) {
			return true
		}
	}
	return false
}

// scimDuplicate finds an attribute named twice in one object of a SCIM user, compared
// case-insensitively as SCIM attribute names are (RFC 7643 §2.1). A decoder keeps one of
// the two values, so such a record is refused rather than silently changed. It runs on
// every SCIM record read, so it allocates nothing unless it finds one: the path is built
// on the way back up (it was 62 of a SCIM -> SCIM migration's 94 allocations a user).
func scimDuplicate(raw []byte) error {
	if fe := dupIn(raw, false, 0); fe != nil {
		return fe
	}
	return nil
}

// dupIn checks obj and the objects in it; the error's Field is relative to obj. inFerry
// says obj is the ferry extension.
func dupIn(obj []byte, inFerry bool, depth int) *FieldError {
	if depth > 8 {
		return nil // SCIM's own structure is shallow; deeper is opaque data
	}
	var names [32][]byte
	seen := names[:0]
	m := newMembers(obj, "")
	for m.next() {
		for _, k := range seen {
			if bytes.EqualFold(k, m.Key) {
				return &FieldError{Field: string(m.Key), Msg: "duplicate attribute (SCIM names are case-insensitive)"}
			}
		}
		seen = append(seen, m.Key)
		if inFerry && isRawMember(m.Key) {
			continue
		}
		v := m.Val[skipWS(m.Val, 0):]
		switch {
		case len(v) > 0 && v[0] == '{':
			if fe := dupIn(v, depth == 0 && string(m.Key) == schemas.FerryUserURN, depth+1); fe != nil {
				fe.Field = joinPath(string(m.Key), fe.Field)
				return fe
			}
		case len(v) > 0 && v[0] == '[':
			i := 0
			for e := newElements(v); e.next(); i++ {
				if ev := e.Val[skipWS(e.Val, 0):]; len(ev) > 0 && ev[0] == '{' {
					if fe := dupIn(ev, false, depth+1); fe != nil {
						fe.Field = joinPath(string(m.Key)+"["+strconv.Itoa(i)+"]", fe.Field)
						return fe
					}
				}
			}
		}
	}
	if m.err != nil { // the scanner stops at a key repeated exactly
		var key string
		if fe, ok := m.err.(*FieldError); ok {
			key = fe.Field
		}
		return &FieldError{Field: key, Msg: "duplicate attribute"}
	}
	return nil
}
