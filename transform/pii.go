package transform

import (
	"github.com/ferry-dev/ferry/internal/redact"
	"strings"
)

// Auth0's metadata docs: metadata is not a secure store and must not hold high-risk
// personal data "such as social security numbers or credit card numbers". ferry looks for
// payment card numbers (Luhn-valid 13-19 digit runs with a card-network first digit),
// formatted US SSNs, French NIRs (with their mod-97 key) and member names that say the
// value is a secret or an identifier. Whatever the --pii mode, the change log and messages
// only ever hold a masked form: the log must not become a store of card numbers.

type piiKind uint8

const (
	piiCard piiKind = iota + 1
	piiSSN
	piiNIR
	piiHinted
)

func (k piiKind) describe() string {
	switch k {
	case piiCard:
		return "a payment card number (Luhn check)"
	case piiSSN:
		return "a US social security number"
	case piiNIR:
		return "a French social security number (NIR)"
	}
	return "a secret or national identifier (by its name)"
}

type piiMatch struct {
	start, end int // byte range in the string, first to last digit
	kind       piiKind
}

// piiRunCandidate is the scanner's cheap test on a digit run (digits count, first digit):
// true when piiFind could match it.
func piiRunCandidate(digits int, first byte) bool {
	switch {
	case digits == 9:
		return true
	case digits == 15 && (first == '1' || first == '2' || first == '7' || first == '8'):
		return true
	case digits >= 13 && digits <= 19 && first >= '2' && first <= '6':
		return true
	}
	return false
}

// piiFind returns the PII-shaped digit runs of s. A run is digits separated by at most one
// space or hyphen at a time ("4111 1111 1111 1111", "123-45-6789").
func piiFind(s string) []piiMatch {
	var out []piiMatch
	var digits [24]byte
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		start, last, n, seps, dashOnly := i, i, 0, 0, true
		tooLong := false
		j := i
		for j < len(s) {
			c := s[j]
			if isDigit(c) {
				if n < len(digits) {
					digits[n] = c
				} else {
					tooLong = true
				}
				n++
				last = j
				j++
				continue
			}
			if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) {
				seps++
				if c != '-' {
					dashOnly = false
				}
				j++
				continue
			}
			break
		}
		i = j
		// A run glued to letters ("id4111...x") is still reported: a false positive costs a
		// warning, a false negative a leaked card number.
		if tooLong {
			continue
		}
		d := digits[:n]
		switch {
		case n >= 13 && n <= 19 && d[0] >= '2' && d[0] <= '6' && luhn(d):
			out = append(out, piiMatch{start, last + 1, piiCard})
		case n == 9 && seps == 2 && dashOnly && s[start+3] == '-' && s[start+6] == '-' && validSSN(d):
			out = append(out, piiMatch{start, last + 1, piiSSN})
		case n == 15 && validNIR(d):
			out = append(out, piiMatch{start, last + 1, piiNIR})
		}
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// validSSN applies the SSA's never-issued ranges: area 000, 666, 900-999; group 00; serial 0000.
func validSSN(d []byte) bool {
	area := string(d[:3])
	return area != "000" && area != "666" && d[0] != '9' && string(d[3:5]) != "00" && string(d[5:]) != "0000"
}

// validNIR checks a 15-digit French NIR: sex digit 1/2 (7/8 for temporary numbers), month
// 01-12 or 20-42/50-99 (unknown months), and the key 97 - (first 13 digits mod 97).
func validNIR(d []byte) bool {
	switch d[0] {
	case '1', '2', '7', '8':
	default:
		return false
	}
	month := int(d[3]-'0')*10 + int(d[4]-'0')
	if month == 0 || (month > 12 && month < 20) || (month > 42 && month < 50) {
		return false
	}
	var n uint64
	for _, c := range d[:13] {
		n = n*10 + uint64(c-'0')
	}
	key := int(d[13]-'0')*10 + int(d[14]-'0')
	return key == int(97-n%97)
}

// maskDigits keeps the last four digits of s: "****1111".
func maskDigits(s string) string {
	var last []byte
	for i := len(s) - 1; i >= 0 && len(last) < 4; i-- {
		if isDigit(s[i]) {
			last = append([]byte{s[i]}, last...)
		}
	}
	if len(last) < 4 || len(s) < 8 {
		return "[redacted]"
	}
	return "****" + string(last)
}

// piiMaskString replaces each match in s by its masked form.
func piiMaskString(s string, ms []piiMatch) string {
	var b strings.Builder
	prev := 0
	for _, m := range ms {
		b.WriteString(s[prev:m.start])
		b.WriteString(maskDigits(s[m.start:m.end]))
		prev = m.end
	}
	b.WriteString(s[prev:])
	return b.String()
}

// piiScalar says whether a scalar value is PII and returns its masked form. hint is the
// member name's hint inherited from the nearest named ancestor.
func piiScalar(v *mdValue, hint keyHint) (piiKind, string, bool) {
	switch v.kind {
	case mdString, mdNumber:
	default:
		return 0, "", false
	}
	if hint != hintNone && v.s != "" || redact.LooksLikePasswordHash(v.s) {
		// A password hash is a secret wherever it sits, whatever its member is called.
		if hint == hintSecret || redact.LooksLikePasswordHash(v.s) {
			return piiHinted, "[redacted]", true
		}
		return piiHinted, maskDigits(v.s), true
	}
	ms := piiFind(v.s)
	if len(ms) == 0 {
		return 0, "", false
	}
	return ms[0].kind, piiMaskString(v.s, ms), true
}

// piiMasked returns v with every PII-shaped value masked (a copy when anything changed).
// Every value a policy writes to the change log goes through it.
func piiMasked(v *mdValue, hint keyHint) *mdValue {
	if v == nil {
		return nil
	}
	switch v.kind {
	case mdString, mdNumber:
		if _, m, ok := piiScalar(v, hint); ok {
			return mdStr(m)
		}
		return v
	case mdArray:
		var out *mdValue
		for i, e := range v.arr {
			if me := piiMasked(e, hint); me != e {
				if out == nil {
					out = &mdValue{kind: mdArray, arr: append([]*mdValue(nil), v.arr...)}
				}
				out.arr[i] = me
			}
		}
		if out != nil {
			return out
		}
	case mdObject:
		var out *mdValue
		for i, m := range v.obj {
			h := hint
			if kh := keyHintOf([]byte(m.key)); kh != hintNone {
				h = kh
			}
			if me := piiMasked(m.val, h); me != m.val {
				if out == nil {
					out = &mdValue{kind: mdObject, obj: append([]mdMember(nil), v.obj...)}
				}
				out.obj[i] = mdMember{key: m.key, val: me}
			}
		}
		if out != nil {
			return out
		}
	}
	return v
}
