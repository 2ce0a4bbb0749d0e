package gen

import (
	"strconv"
	"time"

	"github.com/ferry-dev/ferry/internal/jsonw"
)

// The generators build JSON by appending, not through reflection: that is what lets one
// core produce a few hundred thousand users per second.

// appendKey appends "key": .
func appendKey(dst []byte, key string) []byte {
	dst = jsonw.AppendString(dst, key)
	return append(dst, ':')
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

func appendHex(dst []byte, r *rng, n int) []byte {
	for n > 0 {
		v := r.next()
		for k := 0; k < 16 && n > 0; k++ {
			dst = append(dst, jsonw.HexDigits[v&0xf])
			v >>= 4
			n--
		}
	}
	return dst
}

func appendDigits(dst []byte, r *rng, n int) []byte {
	for k := 0; k < n; k++ {
		d := byte(r.intn(10))
		if k == 0 && d == 0 {
			d = 1
		}
		dst = append(dst, '0'+d)
	}
	return dst
}

// appendGUID appends a random version-4 UUID.
func appendGUID(dst []byte, r *rng) []byte {
	dst = appendHex(dst, r, 8)
	dst = append(dst, '-')
	dst = appendHex(dst, r, 4)
	dst = append(dst, '-', '4')
	dst = appendHex(dst, r, 3)
	dst = append(dst, '-', "89ab"[r.intn(4)])
	dst = appendHex(dst, r, 3)
	dst = append(dst, '-')
	return appendHex(dst, r, 12)
}

// appendTime appends t (UNIX milliseconds) as ISO 8601 UTC with milliseconds, the form the
// Auth0 Management API uses: 2021-03-04T05:06:07.089Z.
func appendTime(dst []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = appendPad(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPad(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendPad(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendPad(dst, h, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, s, 2)
	dst = append(dst, '.')
	dst = appendPad(dst, int(ms%1000+1000)%1000, 3)
	return append(dst, 'Z')
}

func appendPad(dst []byte, v, width int) []byte {
	var b [8]byte
	s := strconv.AppendInt(b[:0], int64(v), 10)
	for k := len(s); k < width; k++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// luhn appends digits (15 random after a fixed issuer prefix) plus the Luhn check digit,
// so the value looks like a real card number to a PII detector.
func appendCard(dst []byte, r *rng) []byte {
	var d [16]byte
	prefix := pick(r, []string{"4539", "5425", "3714"})
	copy(d[:], prefix)
	for k := len(prefix); k < 15; k++ {
		d[k] = '0' + byte(r.intn(10))
	}
	sum := 0
	// Walk right to left over the 15 payload digits; the check digit will sit at index 15,
	// so the payload's rightmost digit is doubled.
	for k := 14; k >= 0; k-- {
		v := int(d[k] - '0')
		if (14-k)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = '0' + byte((10-sum%10)%10)
	return append(dst, d[:]...)
}
