package schemas

import (
	"hash/maphash"
	"sync"
	"unicode"
	"unicode/utf8"
)

// NameSet finds userNames that repeat, case-insensitively (userName is caseExact false and
// uniqueness server, RFC 7643 §4.1.1), across one run. It is safe for concurrent use.
//
// Memory: a run may see millions of users, so the set keeps a 64-bit hash of each folded
// name, not the name, plus the first occurrence's ref packed into a per-shard byte arena.
// The shards' maps hold no pointers, so the garbage collector never scans them. Measured:
// 52 bytes of heap per name for a million names with 12-byte refs, slack included.
//
// Collisions: the hash is maphash with a seed drawn per process, so names cannot be crafted
// to collide. Two distinct names collide with probability about n²/2⁶⁵: 3·10⁻⁸ for a
// million users, 3·10⁻⁶ for ten million. A collision is never silent: the second user is
// reported as a duplicate naming the first one's ref, so a person can see that the two
// names differ. Keeping exact strings would rule it out at two to three times the memory
// and a GC-scanned map; at these odds that is not worth it.
//
// Names are compared as strings.EqualFold compares them (Unicode simple case folding);
// they are not Unicode-normalized, as SCIM does not ask service providers to.
type NameSet struct {
	seed   maphash.Seed
	shards [nameShards]nameShard
}

const nameShards = 64

type nameShard struct {
	mu    sync.Mutex
	first map[uint64]uint64 // hash -> arena offset<<24 | ref length
	arena []byte
	_     [24]byte // keep neighbouring shards' locks off one cache line
}

// maxRef bounds the stored ref (its length fits the packed 24 bits with room to spare).
const maxRef = 1 << 10

// NewNameSet returns an empty set.
func NewNameSet() *NameSet {
	s := &NameSet{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].first = make(map[uint64]uint64)
	}
	return s
}

// Seen records userName with ref (how the caller names the user: a record ref or a source
// id) and reports whether a case-insensitively equal name was seen before, and if so the
// ref it was seen with. A ref longer than 1 KiB is stored cut.
func (s *NameSet) Seen(userName, ref string) (firstRef string, dup bool) {
	h := s.hash(userName)
	sh := &s.shards[h%nameShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if packed, ok := sh.first[h]; ok {
		off, n := packed>>24, packed&(1<<24-1)
		return string(sh.arena[off : off+n]), true
	}
	if len(ref) > maxRef {
		ref = ref[:maxRef]
	}
	sh.first[h] = uint64(len(sh.arena))<<24 | uint64(len(ref))
	sh.arena = append(sh.arena, ref...)
	return "", false
}

// Len returns how many distinct names the set holds.
func (s *NameSet) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.first)
		sh.mu.Unlock()
	}
	return n
}

// hash hashes the case-folded form of name: every rune replaced by the smallest rune of its
// simple-folding orbit, so that two valid UTF-8 names hash alike exactly when
// strings.EqualFold says they are equal. Invalid UTF-8 bytes are hashed as they are:
// EqualFold would take each for U+FFFD and so call distinct names equal.
func (s *NameSet) hash(name string) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var buf [64]byte
	n := 0
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A' // 'A' < 'a' < the rest of the orbit (K, ſ, ...)
			}
			buf[n] = c
			n++
			i++
		} else {
			r, size := utf8.DecodeRuneInString(name[i:])
			if r == utf8.RuneError && size == 1 {
				buf[n] = name[i]
				n++
			} else {
				n += utf8.EncodeRune(buf[n:], foldMin(r))
			}
			i += size
		}
		if n > len(buf)-utf8.UTFMax {
			h.Write(buf[:n])
			n = 0
		}
	}
	h.Write(buf[:n])
	return h.Sum64()
}

// foldMin returns the smallest rune that simple case folding makes equal to r.
func foldMin(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}
