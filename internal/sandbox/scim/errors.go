package scim

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/segmentio/encoding/json"
)

// scimType values (RFC 7644 §3.12, RFC 9865 §4).
const (
	errInvalidFilter = "invalidFilter"
	errTooMany       = "tooMany"
	errUniqueness    = "uniqueness"
	errMutability    = "mutability"
	errInvalidSyntax = "invalidSyntax"
	errInvalidPath   = "invalidPath"
	errNoTarget      = "noTarget"
	errInvalidValue  = "invalidValue"
	errInvalidVers   = "invalidVers"
	errInvalidCursor = "invalidCursor"
	errExpiredCursor = "expiredCursor"
	errInvalidCount  = "invalidCount"
)

// Error is a SCIM error answer (RFC 7644 §3.12). Status travels as a string on the wire.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim: %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim: %d: %s", e.Status, e.Detail)
}

func (e *Error) body() map[string]any {
	m := map[string]any{
		"schemas": []string{ErrorURN},
		"status":  strconv.Itoa(e.Status),
		"detail":  e.Detail,
	}
	if e.ScimType != "" {
		m["scimType"] = e.ScimType
	}
	return m
}

func errf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badValue(format string, args ...any) *Error {
	return errf(http.StatusBadRequest, errInvalidValue, format, args...)
}

func notFound(id string) *Error {
	return errf(http.StatusNotFound, "", "Resource %q not found", id)
}

// ErrorBody renders a SCIM error for status, for faults.Hooks.ErrorBody.
func ErrorBody(status int) (string, []byte) {
	b, _ := json.Marshal((&Error{Status: status, Detail: http.StatusText(status)}).body())
	return MediaType, b
}
