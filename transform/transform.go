// Package transform maps provider records to the canonical SCIM user and back, and applies
// the policies (metadata rules, pictures, identities, PII) that rewrite a user to fit a
// target. Every rewrite is recorded as a Change so that nothing is altered silently.
package transform

import (
	"fmt"
	"sort"
	"sync"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// Decoder turns one provider record into a canonical user. A record of the wrong shape is
// an error naming the field (a *FieldError), never a panic.
type Decoder interface {
	Decode(raw []byte) (*schemas.User, error)
}

// Encoder appends the provider form of u to dst.
type Encoder interface {
	Encode(dst []byte, u *schemas.User) ([]byte, error)
}

// DecoderFunc adapts a function to Decoder.
type DecoderFunc func(raw []byte) (*schemas.User, error)

// Decode implements Decoder.
func (f DecoderFunc) Decode(raw []byte) (*schemas.User, error) { return f(raw) }

// EncoderFunc adapts a function to Encoder.
type EncoderFunc func(dst []byte, u *schemas.User) ([]byte, error)

// Encode implements Encoder.
func (f EncoderFunc) Encode(dst []byte, u *schemas.User) ([]byte, error) { return f(dst, u) }

var (
	regMu    sync.RWMutex
	decoders = map[string]Decoder{}
	encoders = map[string]Encoder{}
)

// RegisterDecoder makes a record format readable. Called from init in each mapping file.
func RegisterDecoder(format string, d Decoder) {
	regMu.Lock()
	defer regMu.Unlock()
	decoders[format] = d
}

// RegisterEncoder makes a record format writable.
func RegisterEncoder(format string, e Encoder) {
	regMu.Lock()
	defer regMu.Unlock()
	encoders[format] = e
}

// DecoderFor returns the decoder of a record format.
func DecoderFor(format string) (Decoder, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	if d, ok := decoders[format]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("transform: no reader for format %q (have %v)", format, keys(decoders))
}

// EncoderFor returns the encoder of a record format.
func EncoderFor(format string) (Encoder, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	if e, ok := encoders[format]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("transform: no writer for format %q (have %v)", format, keys(encoders))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FieldError is a record that does not fit its format, naming the field.
type FieldError struct {
	Field string // JSON path in the source record, e.g. "identities[1].user_id"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Change is one rewrite a policy made, for the change log (core.Change: the pipeline
// carries changes without knowing of policies).
type Change = core.Change

// Changes collects the changes made to one user.
type Changes struct {
	User string
	List []Change
}

// Add records one change. before and after are encoded as JSON; nil means absent.
func (c *Changes) Add(rule, path string, before, after any, note string) {
	c.List = append(c.List, Change{User: c.User, Path: path, Rule: rule,
		Before: rawOf(before), After: rawOf(after), Note: note})
}

func rawOf(v any) json.RawMessage {
	switch x := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", fmt.Sprint(v)))
	}
	return b
}

// Policy rewrites a user to fit a target and records every change it makes. A policy that
// cannot make the user fit returns a *Rejection.
type Policy interface {
	Name() string
	Apply(u *schemas.User, c *Changes) error
}

// Rejection is a policy's refusal of a user.
type Rejection struct {
	Rule string
	Path string
	Msg  string
}

func (r *Rejection) Error() string { return r.Rule + ": " + r.Path + ": " + r.Msg }
