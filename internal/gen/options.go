// Package gen produces deterministic synthetic users in the shapes providers return them:
// Auth0 Management API users, IBM Cloud App ID users/export items and SCIM 2.0 core users,
// plus a roles catalog. User i depends only on (seed, i, Options), so any user can be
// regenerated alone and generation parallelises with byte-identical output.
//
// Options.Nasty mixes in the records that break migrations in practice (see the Auth0
// metadata rules in DESIGN.md): dotted and '$' keys, reserved app_metadata names, one field
// with two types across users, long strings, profiles over 10 KB, card-number-like values,
// data used as keys, and right-to-left, CJK, combining and emoji names.
package gen

// Options tune what the generators produce.
type Options struct {
	// Nasty is the share (0..1) of awkward records.
	Nasty float64
	// Roles are the role names users may carry; empty: the names of Catalog.
	Roles []string
}

func (o Options) roles() []string {
	if len(o.Roles) > 0 {
		return o.Roles
	}
	return defaultRoleNames
}

// Awkward traits a nasty record may carry; each nasty record draws one to three.
const (
	kDottedKey  = 1 << iota // {"preference.color": ...}
	kDollarKey              // {"$theme": ...}
	kReserved               // app_metadata.email / user_id / blocked / created_at
	kTypeClash              // user_metadata.age is "23" here, 23 elsewhere
	kLongString             // a metadata value > 256 characters
	kBigProfile             // the whole profile > 10 KB
	kCardNumber             // a Luhn-valid card number in app_metadata
	kDataKeys               // dates and emails used as object keys
	kUnicode                // RTL / CJK / combining / emoji names
	kStringBool             // email_verified: "true"
	kNumericID              // identities[0].user_id is a JSON number
	numTraits   = iota
)

// traits draws the awkward traits of one record (0 for a clean one).
func traits(r *rng, nasty float64) uint32 {
	if !r.chance(nasty) {
		return 0
	}
	var t uint32
	for k := 1 + r.intn(3); k > 0; k-- {
		t |= 1 << r.intn(numTraits)
	}
	return t
}

// Salts keep the random streams of the different record kinds independent.
const (
	saltAuth0 = 0xa0a0
	saltAppID = 0xa11d
	saltSCIM  = 0x5c13
)

// person is what every record kind derives from: names and an email unique per i.
type person struct {
	given, family string
	email         []byte // reused buffer
}

func newPerson(r *rng, i int, t uint32, buf []byte) person {
	p := person{}
	if t&kUnicode != 0 {
		p.given, p.family = pick(r, awkwardGiven), pick(r, awkwardFamily)
	} else {
		p.given, p.family = pick(r, givenNames), pick(r, familyNames)
	}
	// The index makes the email unique per tenant whatever the names drawn.
	buf = appendSlug(buf[:0], p.given)
	buf = append(buf, '.')
	buf = appendSlug(buf, p.family)
	buf = append(buf, '.')
	buf = appendInt(buf, int64(i))
	buf = append(buf, '@')
	buf = append(buf, pick(r, emailDomains)...)
	p.email = buf
	return p
}
