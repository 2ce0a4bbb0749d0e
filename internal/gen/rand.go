package gen

import "math/bits"

// rng is a small, fast, deterministic generator (wyrand). Every user gets its own rng
// derived from (seed, kind, i), so user i can be regenerated without generating 0..i-1 and
// users can be produced in any order, on any number of cores, with identical bytes.
type rng struct{ s uint64 }

// mix is splitmix64's finaliser: a bijective avalanche of x.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// newRNG derives the rng of record i of a given kind (salt) from seed.
func newRNG(seed int64, salt uint64, i int) rng {
	return rng{s: mix(uint64(seed) ^ mix(salt+0x9e3779b97f4a7c15*uint64(i+1)))}
}

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a value in [0, n); n must be > 0. The modulo bias is irrelevant here.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	return float64(r.next()>>11)/(1<<53) < p
}

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }
