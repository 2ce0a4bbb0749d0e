package jsonstream

import "bytes"

// MaxDepth bounds the nesting of a record. Real profiles nest a few levels (metadata of
// metadata); decoders take time that grows steeply with depth, so a record 100,000 levels
// deep would stall a worker for minutes.
const MaxDepth = 512

// TooDeep reports whether the JSON value b nests objects and arrays deeper than limit.
// It reads b once, skipping string contents, and stops as soon as the limit is passed.
func TooDeep(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Jump to the closing quote, past escaped ones.
			for i++; i < len(b); i++ {
				k := bytes.IndexAny(b[i:], "\"\\")
				if k < 0 {
					return false
				}
				i += k
				if b[i] == '\\' {
					i++
					continue
				}
				break
			}
		case '{', '[':
			if depth++; depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}
