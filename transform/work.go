package transform

import (
	"errors"
	"fmt"

	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/ferry-dev/ferry/schemas"
)

// Work is a run's per-record work: check and decode a source record, apply the policies,
// validate, encode for the sink, and record what the sink's format cannot carry. It
// implements pipeline.Work; the pipeline moves records and counts them, and knows nothing
// of formats or policies.
type Work struct {
	Decoder  Decoder // reads the source's format
	Encoder  Encoder // writes the sink's format
	Policies []Policy
	// Validate checks a user after the policies; a non-nil error rejects it.
	Validate func(*schemas.User) error
	// Losses lists what the sink's format (To) cannot carry of a user; each becomes a
	// change holding the original value. Nil when the format carries everything.
	Losses func(*schemas.User) []string
	To     string
}

// ErrTooDeep rejects a record nested past jsonstream.MaxDepth before any decoder sees it:
// decoders take time that grows steeply with depth.
var ErrTooDeep = fmt.Errorf("JSON nested deeper than %d levels", jsonstream.MaxDepth)

// Process turns one record (ref names its position) into a user encoded in the sink's
// format, appended to dst. A record refused names the stage that refused it (read,
// decode, policy, validate, encode) with the reason; the user is nil when it could not be
// decoded. Changes made before a refusal are returned with it. Safe for concurrent use.
func (w *Work) Process(data, dst []byte, ref string) (u *schemas.User, out []byte, changes []Change, stage string, err error) {
	u, err = w.decode(data)
	if errors.Is(err, ErrTooDeep) {
		return nil, nil, nil, "read", fmt.Errorf("%s: %w", ref, ErrTooDeep)
	}
	if err != nil {
		return nil, nil, nil, "decode", err
	}
	ch := Changes{User: ref}
	if r := u.Ref(); r != "" {
		ch.User = r
	}
	if err := ApplyAll(w.Policies, u, &ch); err != nil {
		return u, nil, ch.List, "policy", err
	}
	if w.Validate != nil {
		if err := w.Validate(u); err != nil {
			return u, nil, ch.List, "validate", err
		}
	}
	// An Encoder appends to dst (its contract; every registered one does), so what it
	// returns is the caller's memory and may serve as its next dst.
	out, err = w.Encoder.Encode(dst, u)
	if err != nil {
		return u, out, ch.List, "encode", err
	}
	if w.Losses != nil {
		RecordLosses(u, w.To, w.Losses(u), &ch)
	}
	return u, out, ch.List, "", nil
}

// decode checks a record's syntax, UTF-8 and depth in one pass, then decodes it; a decoder
// that can skip its own syntax and UTF-8 checks does.
func (w *Work) decode(data []byte) (*schemas.User, error) {
	if err := jsonstream.Check(data, jsonstream.MaxDepth); err != nil {
		// Check stops at the first problem; a malformed record nested too deep further on
		// is still rejected as too deep, as it always was.
		if errors.Is(err, jsonstream.ErrDepth) || jsonstream.TooDeep(data, jsonstream.MaxDepth) {
			return nil, ErrTooDeep
		}
		// Malformed or invalid UTF-8 (rare): the decoder's own checks say so in its own
		// words, so rejects read the same whether or not a pipeline decoded the record.
		u, derr := w.Decoder.Decode(data)
		if derr == nil {
			// A decoder that accepts what the check refuses would let part of a record
			// pass as all of it.
			return nil, &FieldError{Field: "(record)", Msg: "not valid JSON: " + err.Error()}
		}
		return u, derr
	}
	if d, ok := w.Decoder.(CheckedDecoder); ok {
		return d.DecodeChecked(data)
	}
	return w.Decoder.Decode(data)
}

// Dropped implements pipeline.DropRecorder: the change log keeps the values of the
// attributes (paths) the target accepted of u and did not keep.
func (w *Work) Dropped(u *schemas.User, paths []string) []Change {
	ch := Changes{User: u.Ref()}
	RecordDropped(u, paths, &ch)
	return ch.List
}
