package schemas

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Violation is one way a user breaks the schema, at an attribute path in SCIM's notation
// (RFC 7644 §3.10): "emails[1].type", "urn:...:enterprise:2.0:User:manager.value", or
// "(record)" for the record as a whole. Msg never quotes a secret's value.
type Violation struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

func (v Violation) String() string { return v.Path + ": " + v.Msg }

// Violations is a validation result usable as an error.
type Violations []Violation

// Error joins every violation, one per "; ".
func (vs Violations) Error() string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.Path)
		b.WriteString(": ")
		b.WriteString(v.Msg)
	}
	return b.String()
}

// Err returns vs as an error, or nil when there is no violation (so that a nil
// Violations never becomes a non-nil error interface).
func (vs Violations) Err() error {
	if len(vs) == 0 {
		return nil
	}
	return vs
}

// maxViolations caps what one record can produce: a hostile record with a million bad
// emails must not turn its rejection into a memory problem. The last entry says how many
// more there were.
const maxViolations = 100

// collector gathers violations; the zero value is ready and allocation-free until the first
// violation.
type collector struct {
	out     []Violation
	dropped int
}

func (c *collector) add(path, msg string) {
	if len(c.out) >= maxViolations {
		c.dropped++
		return
	}
	c.out = append(c.out, Violation{Path: path, Msg: msg})
}

func (c *collector) result() []Violation {
	if c.dropped > 0 {
		c.out = append(c.out, Violation{Path: "(record)",
			Msg: fmt.Sprintf("%d more violations not listed", c.dropped)})
	}
	return c.out
}

// idx is the path of the i-th value of a multi-valued attribute, with an optional
// sub-attribute: idx("emails", 1, "type") = "emails[1].type".
func idx(attr string, i int, sub string) string {
	p := attr + "[" + strconv.Itoa(i) + "]"
	if sub != "" {
		p += "." + sub
	}
	return p
}

// maxQuoted bounds how much of a bad value a message repeats.
const maxQuoted = 64

// quote renders a (non-secret) value for a message: Go-quoted, so invalid UTF-8 and control
// characters stay visible, and cut after maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}
