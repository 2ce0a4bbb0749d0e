package transform

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func init() {
	RegisterDecoder(core.FormatSCIM, scimDecoder{})
	RegisterEncoder(core.FormatSCIM, EncoderFunc(encodeSCIM))
}

// scimDecoder is the SCIM format's decoder; a record the pipeline has checked skips the
// UTF-8 pass (the strict decode validates the syntax as it goes either way).
type scimDecoder struct{}

var _ CheckedDecoder = scimDecoder{}

func (scimDecoder) Decode(raw []byte) (*schemas.User, error) { return decodeSCIM(raw) }

func (scimDecoder) DecodeChecked(raw []byte) (*schemas.User, error) { return decodeSCIMValid(raw) }

// decodeSCIM reads a SCIM User strictly: an attribute ferry has no field for would be
// dropped by a lenient decode, so it is an error naming the attribute instead. Invalid UTF-8
// is an error too: decoding would replace it with U+FFFD, silently changing the value.
func decodeSCIM(raw []byte) (*schemas.User, error) {
	if !utf8.Valid(raw) {
		return nil, &FieldError{Field: recordPath, Msg: "invalid UTF-8"}
	}
	return decodeSCIMValid(raw)
}

// decodeSCIMValid is decodeSCIM for a record known to be valid UTF-8.
func decodeSCIMValid(raw []byte) (*schemas.User, error) {
	u := new(schemas.User)
	var (
		rest []byte
		err  error
	)
	if listsCustomURN(raw) {
		// Custom extension data has no Go field: it is taken out first and the rest
		// decoded strictly, once.
		var found bool
		if rest, found, err = decodeWithExtensions(raw, u); !found && err == nil {
			rest, err = json.Parse(raw, u, json.DisallowUnknownFields)
		}
	} else if rest, err = json.Parse(raw, u, json.DisallowUnknownFields); err != nil {
		// Data under a URN schemas does not list: the strict decode refused it as an
		// unknown field; decoded without it, Validate names the URN.
		v := new(schemas.User)
		if r, found, xerr := decodeWithExtensions(raw, v); found || xerr != nil {
			u, rest, err = v, r, xerr
		}
	}
	if fe, ok := err.(*FieldError); ok && json.Valid(raw) {
		return nil, fe // extension data that is not an object
	}
	if err == nil && len(trimWS(rest)) > 0 {
		// Parse stops after the first value: "{...}0" would pass as the user alone.
		return nil, &FieldError{Field: "(record)", Msg: "not valid JSON"}
	}
	if err != nil {
		if !json.Valid(raw) {
			return nil, &FieldError{Field: "(record)", Msg: "not valid JSON"}
		}
		// The fast decode stops at the first problem; the schema walk names all of them.
		if vs := schemas.ValidateJSON(raw); len(vs) > 0 {
			return nil, schemas.Violations(vs)
		}
		return nil, scimFieldError(err)
	}
	if err := scimDuplicate(raw); err != nil {
		return nil, err
	}
	return u, nil
}

// scimFieldError turns a decoding error into a *FieldError. Messages name the JSON type
// found, never the value: the value may be a secret.
func scimFieldError(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		field := jsonPath(ute.Field)
		if field == "" {
			field = recordPath
		}
		return &FieldError{Field: field, Msg: "expected " + goTypeName(ute.Type) + ", got " + typeErrorKind(ute.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 {
		return &FieldError{Field: recordPath, Msg: "malformed JSON near byte " + strconv.FormatInt(se.Offset, 10)}
	}
	msg := err.Error()
	// segmentio reports unknown fields as: json: unknown field "x"
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		return &FieldError{Field: strings.Trim(msg[i+len("unknown field "):], `"`), Msg: "attribute not in the SCIM User schema or a known extension"}
	}
	if strings.Contains(msg, "unexpected end") || strings.Contains(msg, "invalid character") {
		return &FieldError{Field: recordPath, Msg: "malformed JSON"}
	}
	return &FieldError{Field: recordPath, Msg: msg}
}

// typeErrorKind names the JSON type in an UnmarshalTypeError's Value, which segmentio fills
// with either a kind ("number", "array") or a quoted prefix of the raw value.
func typeErrorKind(v string) string {
	if uq, err := strconv.Unquote(v); err == nil {
		v = uq
	}
	v = strings.TrimLeft(v, " \t\r\n")
	switch {
	case strings.HasPrefix(v, "number"):
		if strings.HasSuffix(v, "overflows") {
			return "a number out of range"
		}
		return "number"
	case strings.HasPrefix(v, "string"), strings.HasPrefix(v, "object"), strings.HasPrefix(v, "array"), strings.HasPrefix(v, "bool"):
		return strings.Fields(v)[0]
	}
	return jsonKind([]byte(v))
}

// goTypeName says what JSON a Go type wants.
func goTypeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Name() == "RawMessage" {
			return "JSON value"
		}
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}

// jsonPath turns segmentio's dotted field path ("emails.1.value") into the JSON path form
// FieldError uses ("emails[1].value"), keeping the dots inside schema URNs.
func jsonPath(p string) string {
	if p == "" {
		return ""
	}
	var b strings.Builder
	for _, urn := range []string{schemas.EnterpriseUserURN, schemas.FerryUserURN} {
		if strings.HasPrefix(p, urn) {
			b.WriteString(urn)
			p = p[len(urn):]
			if strings.HasPrefix(p, ".") {
				b.WriteByte(':')
				p = p[1:]
			}
		}
	}
	for i, seg := range strings.Split(p, ".") {
		if seg == "" {
			continue
		}
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
			continue
		}
		if i > 0 && b.Len() > 0 && !strings.HasSuffix(b.String(), ":") {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// encodeSCIM writes the SCIM JSON every file and SCIM target gets. It used to be
// json.Append(dst, u, json.EscapeHTML|json.SortMapKeys|json.TrustRawMessage) from segmentio;
// reflection over User and segmentio's byte-at-a-time compaction of the raw values
// (metadata, identities, extra) cost a tenth of a migration's CPU, so appendSCIMUser
// (scim_encode.go) writes the same bytes by hand. FuzzSCIMEncode and FuzzSCIMEncodeFields
// hold it to segmentio's output byte for byte (an empty identity, which segmentio wrote as
// nothing, is null): a backup must not change because the encoder did. Raw values are trusted to be valid JSON, as segmentio's TrustRawMessage trusted them:
// every decoder validates the record before slicing values out of it, and every policy
// re-serializes what it rewrites from a parsed tree.
func encodeSCIM(dst []byte, u *schemas.User) ([]byte, error) {
	return appendSCIMUser(dst, u)
}
