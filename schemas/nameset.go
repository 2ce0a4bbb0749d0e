package schemas

import (
	"hash/maphash"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// NameSet finds userNames that repeat, case-insensitively (userName is caseExact false and
// uniqueness server, RFC 7643 §4.1.1), across one run. It is safe for concurrent use.
//
// Memory: a run may see millions of users and everything else in the pipeline is bounded,
// so this set is what makes memory grow with the user count. It keeps a 64-bit hash of each
// folded name, not the name, and the first occurrence's ref: "line N" and "element N" (what
// file sources give) packed into 32 bits, any other ref in a byte arena. Slots are 12 bytes
// (hash, ref) in open-addressed tables grown by half at 85% load. Tables and arena chunks
// of 64 KiB and more live outside the Go heap (mmap where available): the collector neither
// scans them nor counts them when it sizes the heap, which otherwise doubled their cost in
// RSS. A slot is 12 bytes and tables are 57-85% full: about 17 bytes per name. Measured:
// the peak RSS of a 1M-user Auth0 -> SCIM file migration fell from 129 MB to 55 MB
// (100k users: 34 MB -> 29 MB).
//
// Collisions: the hash is maphash with a seed drawn per process, so names cannot be crafted
// to collide. Two distinct names collide with probability about n²/2⁶⁵: 3·10⁻⁸ for a
// million users, 3·10⁻⁶ for ten million. A collision is never silent: the second user is
// reported as a duplicate naming the first one's ref, so a person can see that the two
// names differ. Keeping exact strings would rule it out at several times the memory; at
// these odds that is not worth it.
//
// Names are compared as strings.EqualFold compares them (Unicode simple case folding);
// they are not Unicode-normalized, as SCIM does not ask service providers to.
type NameSet struct {
	seed   maphash.Seed
	shards *[nameShards]nameShard
}

const nameShards = 64

type nameShard struct {
	mu    sync.Mutex
	n     int      // names held
	hash  []uint64 // 0: empty slot (a name hashing to 0 is stored as 1)
	ref   []uint32 // packed ref, see packRef
	mem   []region // the off-heap regions backing hash and ref, freed on growth
	arena arena
	_     [16]byte // keep neighbouring shards' locks off one cache line
}

// maxRef bounds the stored ref (its length fits the arena's 16-bit length prefix).
const maxRef = 1 << 10

// NewNameSet returns an empty set. Its off-heap memory is returned when the set becomes
// unreachable.
func NewNameSet() *NameSet {
	s := &NameSet{seed: maphash.MakeSeed(), shards: new([nameShards]nameShard)}
	runtime.AddCleanup(s, freeShards, s.shards)
	return s
}

// freeShards returns the off-heap memory. It takes each shard's lock, so it cannot pull
// memory from under a Seen still running (a string it returns is a copy).
func freeShards(shards *[nameShards]nameShard) {
	for i := range shards {
		sh := &shards[i]
		sh.mu.Lock()
		for _, r := range sh.mem {
			r.free()
		}
		sh.arena.free()
		sh.mem, sh.hash, sh.ref = nil, nil, nil
		sh.mu.Unlock()
	}
}

// Seen records userName with ref (how the caller names the user: a record ref or a source
// id) and reports whether a case-insensitively equal name was seen before, and if so the
// ref it was seen with. A ref longer than 1 KiB is stored cut.
func (s *NameSet) Seen(userName, ref string) (firstRef string, dup bool) {
	h := s.hash(userName)
	sh := &s.shards[h%nameShards]
	if h == 0 {
		h = 1
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, found := sh.find(h); found {
		return sh.arena.unpack(sh.ref[i]), true
	}
	if len(ref) > maxRef {
		ref = ref[:maxRef]
	}
	if (sh.n+1)*100 > len(sh.hash)*85 {
		sh.grow()
	}
	i, _ := sh.find(h)
	sh.hash[i], sh.ref[i] = h, sh.arena.pack(ref)
	sh.n++
	return "", false
}

// find returns the slot holding h, or the empty slot where it would go.
func (sh *nameShard) find(h uint64) (int, bool) {
	n := len(sh.hash)
	if n == 0 {
		return 0, false
	}
	// The shard took the low bits; the slot comes from the high ones (Lemire's reduction,
	// as table sizes are not powers of two).
	i := int((h >> 32) * uint64(n) >> 32)
	for {
		switch sh.hash[i] {
		case h:
			return i, true
		case 0:
			return i, false
		}
		if i++; i == n {
			i = 0
		}
	}
}

func (sh *nameShard) grow() {
	n := max(256, len(sh.hash)*3/2)
	oldHash, oldRef, oldMem := sh.hash, sh.ref, sh.mem
	hr, ht := allocWords[uint64](n)
	rr, rt := allocWords[uint32](n)
	sh.hash, sh.ref, sh.mem = ht, rt, []region{hr, rr}
	for j, h := range oldHash {
		if h != 0 {
			i, _ := sh.find(h)
			sh.hash[i], sh.ref[i] = h, oldRef[j]
		}
	}
	for _, r := range oldMem {
		r.free()
	}
}

// Len returns how many distinct names the set holds.
func (s *NameSet) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.n
		sh.mu.Unlock()
	}
	return n
}

// Packed refs: bit 31 set means "line N" (bit 30 clear) or "element N" (bit 30 set) with N
// in the low 30 bits; otherwise the value is an arena position (chunk<<20 | offset) of a
// 16-bit length followed by the ref's bytes.
const (
	refNumeric = 1 << 31
	refElement = 1 << 30
	refMaxN    = 1<<30 - 1
	refLost    = refNumeric | refElement // "element 0": elements count from 1
	chunkBits  = 20
	chunkSize  = 1 << chunkBits
	maxChunks  = 1 << (31 - chunkBits)
)

// arena holds refs that are not "line N" or "element N", in chunks of up to 1 MiB (off the
// heap from 64 KiB).
type arena struct {
	chunks []region
	used   int // bytes used in the last chunk
}

func (a *arena) pack(ref string) uint32 {
	for _, p := range [...]struct {
		prefix string
		bit    uint32
	}{{"line ", 0}, {"element ", refElement}} {
		if n, ok := parseCount(ref, p.prefix); ok && refNumeric|p.bit|n != refLost {
			return refNumeric | p.bit | n
		}
	}
	need := 2 + len(ref)
	if len(a.chunks) == 0 || a.used+need > len(a.chunks[len(a.chunks)-1].bytes()) {
		if len(a.chunks) == maxChunks {
			// Past 2,048 chunks (about 2 GiB of refs, beyond any real run): keep the
			// duplicate check, lose the ref.
			return refLost
		}
		// Chunks double from 16 KiB to 1 MiB, so a small run keeps a small arena.
		size := min(chunkSize, 16<<10<<min(len(a.chunks), 6))
		r, _ := allocWords[uint64](size / 8)
		a.chunks, a.used = append(a.chunks, r), 0
	}
	b := a.chunks[len(a.chunks)-1].bytes()
	b[a.used], b[a.used+1] = byte(len(ref)), byte(len(ref)>>8)
	copy(b[a.used+2:], ref)
	pos := uint32(len(a.chunks)-1)<<chunkBits | uint32(a.used)
	a.used += need
	return pos
}

func (a *arena) unpack(v uint32) string {
	if v == refLost {
		return "(a user whose ref was not kept)"
	}
	if v&refNumeric != 0 {
		prefix := "line "
		if v&refElement != 0 {
			prefix = "element "
		}
		return prefix + strconv.FormatUint(uint64(v&refMaxN), 10)
	}
	b := a.chunks[v>>chunkBits].bytes()[v&(chunkSize-1):]
	n := int(b[0]) | int(b[1])<<8
	return string(b[2 : 2+n])
}

func (a *arena) free() {
	for _, r := range a.chunks {
		r.free()
	}
	a.chunks = nil
}

// parseCount reads ref as prefix followed by a decimal count that formats back to the same
// text (no sign, no leading zero) and fits refMaxN.
func parseCount(ref, prefix string) (uint32, bool) {
	d, ok := strings.CutPrefix(ref, prefix)
	if !ok || d == "" || len(d) > 10 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > refMaxN {
		return 0, false
	}
	return uint32(n), true
}

// region is one allocation of the set: on the Go heap when small, off it when large.
type region struct {
	heap []uint64
	off  []byte // from offHeapAlloc; nil when on the heap
}

func (r region) bytes() []byte {
	if r.off != nil {
		return r.off
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(r.heap))), len(r.heap)*8)
}

func (r region) free() {
	if r.off != nil {
		offHeapFree(r.off)
	}
}

// offHeapMin is the size from which a region is taken off the Go heap: below it, a
// mapping's page rounding and system call would cost more than they save.
const offHeapMin = 64 << 10

// allocWords returns a zeroed slice of n words and the region backing it.
func allocWords[T uint32 | uint64](n int) (region, []T) {
	size := n * int(unsafe.Sizeof(T(0)))
	var r region
	if size >= offHeapMin {
		r.off = offHeapAlloc(size)
	}
	if r.off == nil {
		r.heap = make([]uint64, (size+7)/8)
	}
	b := r.bytes()
	return r, unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// hash hashes the case-folded form of name: every rune replaced by the smallest rune of its
// simple-folding orbit, so that two valid UTF-8 names hash alike exactly when
// strings.EqualFold says they are equal. Invalid UTF-8 bytes are hashed as they are:
// EqualFold would take each for U+FFFD and so call distinct names equal.
func (s *NameSet) hash(name string) uint64 { return FoldHash(s.seed, name) }

// FoldHash hashes name case-folded (Unicode simple folding: each rune replaced by the
// smallest rune of its folding orbit), so two names strings.EqualFold calls equal hash
// alike. Anything that needs case-insensitive sets of names (the mirror's keep set) uses it.
func FoldHash(seed maphash.Seed, name string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
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
