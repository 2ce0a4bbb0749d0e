package gen

import (
	"iter"
	"strconv"

	"github.com/ferry-dev/ferry/internal/jsonw"
)

const (
	// baseMS is 2018-01-01T00:00:00Z. User i is created inside the minute slot
	// [base+i min, base+(i+1) min), so created_at strictly increases with i and a created_at
	// window selects a contiguous range of users.
	baseMS = 1514764800000
	slotMS = 60_000
	dayMS  = 86_400_000
)

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// CreatedAt returns user i's created_at in UNIX milliseconds (the same for every generator
// and seed), so tests can compute created_at windows without generating users.
func CreatedAt(seed int64, i int) int64 {
	r := newRNG(seed, saltAuth0^0xc7, i)
	return baseMS + int64(i)*slotMS + int64(r.intn(slotMS))
}

// Auth0 returns user i as the Auth0 Management API returns users (GET /api/v2/users).
func Auth0(seed int64, i int, opt Options) []byte {
	return AppendAuth0(make([]byte, 0, 1536), seed, i, opt)
}

// AppendAuth0 appends user i in the Auth0 Management API user shape to dst. Keys come in
// alphabetical order, as the API returns them.
func AppendAuth0(dst []byte, seed int64, i int, opt Options) []byte {
	r := newRNG(seed, saltAuth0, i)
	t := traits(&r, opt.Nasty)
	var ebuf [96]byte
	p := newPerson(&r, i, t, ebuf[:0])

	created := CreatedAt(seed, i)
	updated := created + int64(r.intn(400*dayMS))
	lastLogin := created + int64(r.intn(int(updated-created)+1))

	social := t&kNumericID != 0 || r.chance(0.25)
	linked := !social && r.chance(0.08)
	blocked := r.chance(0.02)
	hasUsername := !social && r.chance(0.3)

	// user_id and identities[0].
	var idbuf [64]byte
	uid := idbuf[:0]
	provider, connection := "auth0", "Username-Password-Authentication"
	numericID := false
	switch {
	case t&kNumericID != 0:
		provider, connection, numericID = "github", "github", true
		uid = appendInt(uid, 1_000_000+int64(i)*7+int64(r.intn(7)))
	case social:
		provider, connection = "google-oauth2", "google-oauth2"
		uid = appendGoogleID(uid, &r, i, 0)
	default:
		// An ObjectId: 4-byte timestamp, 5 random bytes, 3-byte counter; unique per i.
		uid = appendHexN(uid, uint64(created/1000), 8)
		uid = appendHex(uid, &r, 10)
		uid = appendHexN(uid, uint64(i)&0xffffff, 6)
	}

	dst = append(dst, '{')
	// app_metadata
	if t&(kDollarKey|kReserved|kCardNumber) != 0 || !r.chance(0.1) {
		dst = append(dst, `"app_metadata":{"flags":{"beta":`...)
		dst = appendBool(dst, r.chance(0.2))
		dst = append(dst, `,"newsletter":`...)
		dst = appendBool(dst, r.chance(0.5))
		dst = append(dst, `},"plan":`...)
		dst = jsonw.AppendString(dst, pick(&r, plans))
		if roles := opt.roles(); r.chance(0.6) {
			dst = append(dst, `,"roles":[`...)
			first := r.intn(len(roles))
			dst = jsonw.AppendString(dst, roles[first])
			if len(roles) > 1 && r.chance(0.3) {
				dst = append(dst, ',')
				dst = jsonw.AppendString(dst, roles[(first+1+r.intn(len(roles)-1))%len(roles)])
			}
			dst = append(dst, ']')
		}
		if t&kDollarKey != 0 {
			dst = append(dst, `,"$tier":"gold"`...)
		}
		if t&kReserved != 0 {
			switch r.intn(4) {
			case 0:
				dst = append(dst, `,"email":"legacy-`...)
				dst = append(dst, p.email...)
				dst = append(dst, '"')
			case 1:
				dst = append(dst, `,"user_id":"legacy-`...)
				dst = appendInt(dst, int64(i))
				dst = append(dst, '"')
			case 2:
				dst = append(dst, `,"blocked":"no"`...)
			default:
				dst = append(dst, `,"created_at":`...)
				dst = appendInt(dst, created/1000)
			}
		}
		if t&kCardNumber != 0 {
			dst = append(dst, `,"payment":{"card":"`...)
			dst = appendCard(dst, &r)
			dst = append(dst, `","exp":"12/29"}`...)
		}
		dst = append(dst, `},`...)
	}
	if blocked {
		dst = append(dst, `"blocked":true,`...)
	}
	dst = append(dst, `"created_at":"`...)
	dst = appendTime(dst, created)
	dst = append(dst, `","email":`...)
	dst = jsonw.AppendString(dst, string(p.email))
	dst = append(dst, `,"email_verified":`...)
	if t&kStringBool != 0 {
		dst = append(dst, `"true"`...)
	} else {
		dst = appendBool(dst, social || r.chance(0.7))
	}
	hasNames := social || r.chance(0.8)
	if hasNames {
		dst = append(dst, `,"family_name":`...)
		dst = jsonw.AppendString(dst, p.family)
		dst = append(dst, `,"given_name":`...)
		dst = jsonw.AppendString(dst, p.given)
	}
	dst = append(dst, `,"identities":[{"connection":`...)
	dst = jsonw.AppendString(dst, connection)
	dst = append(dst, `,"isSocial":`...)
	dst = appendBool(dst, provider != "auth0")
	dst = append(dst, `,"provider":`...)
	dst = jsonw.AppendString(dst, provider)
	dst = append(dst, `,"user_id":`...)
	if numericID {
		dst = append(dst, uid...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, uid...)
		dst = append(dst, '"')
	}
	dst = append(dst, '}')
	if linked {
		// A linked secondary identity carries the profile it came with.
		dst = append(dst, `,{"connection":"google-oauth2","isSocial":true,"profileData":{"email":`...)
		dst = jsonw.AppendString(dst, string(p.email))
		dst = append(dst, `,"email_verified":true,"family_name":`...)
		dst = jsonw.AppendString(dst, p.family)
		dst = append(dst, `,"given_name":`...)
		dst = jsonw.AppendString(dst, p.given)
		dst = append(dst, `,"name":`...)
		dst = appendName(dst, p)
		dst = append(dst, `,"picture":`...)
		dst = appendGooglePicture(dst, &r)
		dst = append(dst, `},"provider":"google-oauth2","user_id":"`...)
		dst = appendGoogleID(dst, &r, i, 1)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `],"last_ip":"`...)
	if r.chance(0.2) {
		dst = append(dst, "2001:db8::"...)
		dst = appendHex(dst, &r, 4)
	} else {
		dst = append(dst, pick(&r, []string{"192.0.2.", "198.51.100.", "203.0.113."})...)
		dst = appendInt(dst, int64(1+r.intn(254)))
	}
	dst = append(dst, `","last_login":"`...)
	dst = appendTime(dst, lastLogin)
	dst = append(dst, `","logins_count":`...)
	dst = appendInt(dst, int64(1+r.intn(500)))
	if r.chance(0.05) {
		dst = append(dst, `,"multifactor":["guardian"]`...)
	}
	dst = append(dst, `,"name":`...)
	if hasNames {
		dst = appendName(dst, p)
	} else {
		dst = jsonw.AppendString(dst, string(p.email)) // Auth0 defaults name to the email
	}
	dst = append(dst, `,"nickname":`...)
	at := 0
	for at < len(p.email) && p.email[at] != '@' {
		at++
	}
	dst = jsonw.AppendString(dst, string(p.email[:at]))
	dst = append(dst, `,"picture":`...)
	if social {
		dst = appendGooglePicture(dst, &r)
	} else {
		dst = appendGravatar(dst, &r, p)
	}
	dst = append(dst, `,"updated_at":"`...)
	dst = appendTime(dst, updated)
	dst = append(dst, `","user_id":"`...)
	dst = append(dst, provider...)
	dst = append(dst, '|')
	dst = append(dst, uid...)
	dst = append(dst, '"')
	dst = appendUserMetadata(dst, &r, i, t, p)
	if hasUsername {
		dst = append(dst, `,"username":"`...)
		n := len(dst)
		dst = appendSlug(dst, p.given)
		if len(dst)-n > 5 {
			dst = dst[:n+5]
		}
		dst = appendInt(dst, int64(i))
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendUserMetadata(dst []byte, r *rng, i int, t uint32, p person) []byte {
	const awkward = kDottedKey | kDollarKey | kTypeClash | kLongString | kBigProfile | kDataKeys
	if t&awkward == 0 && r.chance(0.15) {
		return dst
	}
	dst = append(dst, `,"user_metadata":{`...)
	if t&kTypeClash != 0 {
		// Clean users carry age as a number; these carry it as a string.
		dst = append(dst, `"age":"`...)
		dst = appendInt(dst, int64(18+r.intn(60)))
		dst = append(dst, `",`...)
	} else if r.chance(0.3) {
		dst = append(dst, `"age":`...)
		dst = appendInt(dst, int64(18+r.intn(60)))
		dst = append(dst, ',')
	}
	if t&kLongString != 0 {
		dst = append(dst, `"bio":"`...)
		dst = appendLorem(dst, r, 300+r.intn(600))
		dst = append(dst, `",`...)
	}
	if t&kDataKeys != 0 {
		dst = append(dst, `"contacts":{`...)
		for k := 0; k < 2; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = append(dst, pick(r, loremWords)...)
			dst = append(dst, '.')
			dst = appendInt(dst, int64(k*1000+r.intn(1000)))
			dst = append(dst, `@example.com":{"since":"2020"}`...)
		}
		dst = append(dst, `},"logins_by_day":{"`...)
		day := baseMS + int64(i)*slotMS
		n := len(dst)
		dst = appendTime(dst, day)[:n+10] // the date alone: 2018-01-01
		dst = append(dst, `":3,"`...)
		n = len(dst)
		dst = appendTime(dst, day+dayMS)[:n+10]
		dst = append(dst, `":1},`...)
	}
	if t&kBigProfile != 0 {
		// ~12 KB of history: pushes the profile past Auth0's 10 KB deprecation threshold.
		dst = append(dst, `"history":[`...)
		for k := 0; k < 100; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"at":"`...)
			dst = appendTime(dst, baseMS+int64(k)*dayMS)
			dst = append(dst, `","event":"`...)
			dst = appendLorem(dst, r, 70)
			dst = append(dst, `"}`...)
		}
		dst = append(dst, `],`...)
	}
	if r.chance(0.1) {
		dst = append(dst, `"picture":"https://cdn.example.org/avatars/`...)
		dst = appendHex(dst, r, 16)
		dst = append(dst, `.png",`...)
	}
	if t&kDottedKey != 0 {
		dst = append(dst, `"preference.color":`...)
		dst = jsonw.AppendString(dst, pick(r, colors))
		dst = append(dst, ',')
	}
	if t&kDollarKey != 0 {
		dst = append(dst, `"$theme":"dark",`...)
	}
	dst = append(dst, `"preferences":{"language":`...)
	dst = jsonw.AppendString(dst, pick(r, languages))
	dst = append(dst, `,"theme":`...)
	dst = jsonw.AppendString(dst, pick(r, themes))
	return append(dst, `}}`...)
}

func appendName(dst []byte, p person) []byte {
	dst = jsonw.AppendString(dst, p.given+" "+p.family)
	return dst
}

// appendGoogleID appends a 21-digit Google subject, unique per (i, k).
func appendGoogleID(dst []byte, r *rng, i, k int) []byte {
	dst = append(dst, '1', byte('0'+k))
	dst = appendDigits(dst, r, 9)
	return appendPad(dst, i%10_000_000_000, 10)
}

func appendHexN(dst []byte, v uint64, n int) []byte {
	for k := n - 1; k >= 0; k-- {
		dst = append(dst, jsonw.HexDigits[(v>>(4*uint(k)))&0xf])
	}
	return dst
}

// appendGravatar appends the default picture Auth0 gives database users: a gravatar URL
// falling back to an initials avatar on Auth0's CDN.
func appendGravatar(dst []byte, r *rng, p person) []byte {
	dst = append(dst, `"https://s.gravatar.com/avatar/`...)
	dst = appendHex(dst, r, 32)
	dst = append(dst, `?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F`...)
	n := len(dst)
	dst = appendSlug(dst, p.given)[:n+1] // initials
	n = len(dst)
	dst = appendSlug(dst, p.family)[:n+1]
	return append(dst, `.png"`...)
}

func appendGooglePicture(dst []byte, r *rng) []byte {
	dst = append(dst, `"https://lh3.googleusercontent.com/a/ACg8oc`...)
	dst = appendHex(dst, r, 28)
	return append(dst, `=s96-c"`...)
}

// Auth0Users yields users 0..n-1 in the Auth0 API shape. The yielded slice is reused:
// copy it to keep it past the iteration step.
func Auth0Users(seed int64, n int, opt Options) iter.Seq2[int, []byte] {
	return seq(AppendAuth0, seed, n, opt)
}

func seq(f AppendFunc, seed int64, n int, opt Options) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		buf := make([]byte, 0, 4096)
		for i := 0; i < n; i++ {
			buf = f(buf[:0], seed, i, opt)
			if !yield(i, buf) {
				return
			}
		}
	}
}
