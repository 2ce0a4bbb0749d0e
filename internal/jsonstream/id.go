package jsonstream

import (
	"bytes"

	"github.com/segmentio/encoding/json"
)

// IDText is the text of a raw JSON id: a string's value, or a number's digits (providers
// document strings, but careless servers send numbers, and Auth0's identities[].user_id is
// seen as one in real answers). Anything else is "".
func IDText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') {
		return string(v)
	}
	return ""
}
