package transform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func init() {
	RegisterDecoder(core.FormatSCIM, DecoderFunc(decodeSCIM))
	RegisterEncoder(core.FormatSCIM, EncoderFunc(encodeSCIM))
}

// decodeSCIM reads a SCIM User strictly: an attribute ferry has no field for would be
// dropped by a lenient decode, so it is an error naming the attribute instead.
func decodeSCIM(raw []byte) (*schemas.User, error) {
	u := new(schemas.User)
	if _, err := json.Parse(raw, u, json.DisallowUnknownFields); err != nil {
		if !json.Valid(raw) {
			return nil, &FieldError{Field: "(record)", Msg: "not valid JSON"}
		}
		// The fast decode stops at the first problem; the schema walk names all of them.
		if vs := schemas.ValidateJSON(raw); len(vs) > 0 {
			return nil, schemas.Violations(vs)
		}
		return nil, scimFieldError(err)
	}
	return u, nil
}

func scimFieldError(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		field := ute.Field
		if field == "" {
			field = "(record)"
		}
		return &FieldError{Field: field, Msg: fmt.Sprintf("expected %s, got JSON %s", ute.Type, ute.Value)}
	}
	msg := err.Error()
	// segmentio reports unknown fields as: json: unknown field "x"
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		return &FieldError{Field: strings.Trim(msg[i+len("unknown field "):], `"`), Msg: "attribute not in the SCIM User schema or a known extension"}
	}
	return &FieldError{Field: "(record)", Msg: msg}
}

func encodeSCIM(dst []byte, u *schemas.User) ([]byte, error) {
	return json.Append(dst, u, json.EscapeHTML|json.SortMapKeys)
}
