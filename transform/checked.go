package transform

import (
	"bytes"

	"github.com/ferry-dev/ferry/schemas"
)

// CheckedDecoder is a Decoder that can skip its own UTF-8 and JSON syntax checks. A caller
// that has already checked a record in one pass (the pipeline runs jsonstream.Check on
// every record, for depth) calls DecodeChecked and saves two more passes over it.
// DecodeChecked's raw MUST be valid UTF-8 and one valid JSON value: the mappers slice
// values out of the record on that assumption. Errors otherwise are the same as Decode's.
type CheckedDecoder interface {
	Decoder
	DecodeChecked(raw []byte) (*schemas.User, error)
}

// recordMapper maps a provider record, checked and trimmed (see checkRecord), to a user.
// Every provider mapper but SCIM's is one.
type recordMapper func(obj []byte) (*schemas.User, error)

var _ CheckedDecoder = recordMapper(nil)

// Decode implements Decoder.
func (m recordMapper) Decode(raw []byte) (*schemas.User, error) {
	obj, err := checkRecord(raw)
	if err != nil {
		return nil, err
	}
	return m(obj)
}

// DecodeChecked implements CheckedDecoder.
func (m recordMapper) DecodeChecked(raw []byte) (*schemas.User, error) {
	obj, err := ownObject(raw)
	if err != nil {
		return nil, err
	}
	return m(obj)
}

// ownObject trims a valid JSON value, refuses anything but an object and returns a copy:
// the user keeps raw values (metadata, identities) as slices of the record, and a source
// may reuse its read buffer.
func ownObject(raw []byte) ([]byte, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || b[0] != '{' {
		return nil, &FieldError{Field: recordPath, Msg: "expected a JSON object, got " + jsonKind(b)}
	}
	return append(make([]byte, 0, len(b)), b...), nil
}
