package gen

import (
	"iter"

	"github.com/ferry-dev/ferry/internal/jsonw"
)

const (
	scimCoreURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimEnterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// SCIM returns user i as a SCIM 2.0 core User (RFC 7643 §4.1), with the enterprise
// extension (§4.3) for some users.
func SCIM(seed int64, i int, opt Options) []byte {
	return AppendSCIM(make([]byte, 0, 1024), seed, i, opt)
}

// SCIMUsers yields users 0..n-1 as SCIM core users; the slice is reused.
func SCIMUsers(seed int64, n int, opt Options) iter.Seq2[int, []byte] {
	return seq(AppendSCIM, seed, n, opt)
}

// AppendSCIM appends user i as a SCIM core User to dst.
func AppendSCIM(dst []byte, seed int64, i int, opt Options) []byte {
	r := newRNG(seed, saltSCIM, i)
	t := traits(&r, opt.Nasty)
	var ebuf [96]byte
	p := newPerson(&r, i, t, ebuf[:0])
	email := string(p.email)
	created := CreatedAt(seed, i)
	modified := created + int64(r.intn(400*dayMS))
	enterprise := r.chance(0.4)

	dst = append(dst, `{"schemas":["`+scimCoreURN+`"`...)
	if enterprise {
		dst = append(dst, `,"`+scimEnterpriseURN+`"`...)
	}
	dst = append(dst, `],"id":"`...)
	dst = appendGUID(dst, &r)
	dst = append(dst, `","externalId":"ext-`...)
	dst = appendInt(dst, int64(i))
	dst = append(dst, `","meta":{"resourceType":"User","created":"`...)
	dst = appendTime(dst, created)
	dst = append(dst, `","lastModified":"`...)
	dst = appendTime(dst, modified)
	dst = append(dst, `","version":"W/\"`...)
	dst = appendHex(dst, &r, 12)
	dst = append(dst, `\""},"userName":`...)
	dst = jsonw.AppendString(dst, email)
	dst = append(dst, `,"name":{"formatted":`...)
	dst = jsonw.AppendString(dst, p.given+" "+p.family)
	dst = append(dst, `,"familyName":`...)
	dst = jsonw.AppendString(dst, p.family)
	dst = append(dst, `,"givenName":`...)
	dst = jsonw.AppendString(dst, p.given)
	dst = append(dst, `},"displayName":`...)
	if t&kLongString != 0 {
		b := appendLorem([]byte(p.given+" "), &r, 300)
		dst = jsonw.AppendString(dst, string(b))
	} else {
		dst = jsonw.AppendString(dst, p.given+" "+p.family)
	}
	if r.chance(0.5) {
		dst = append(dst, `,"title":`...)
		dst = jsonw.AppendString(dst, pick(&r, titles))
	}
	dst = append(dst, `,"locale":`...)
	dst = jsonw.AppendString(dst, pick(&r, languages))
	dst = append(dst, `,"active":`...)
	dst = appendBool(dst, !r.chance(0.05))
	dst = append(dst, `,"emails":[{"value":`...)
	dst = jsonw.AppendString(dst, email)
	dst = append(dst, `,"type":"work","primary":true}]`...)
	if r.chance(0.4) {
		dst = append(dst, `,"phoneNumbers":[{"value":"+1555`...)
		dst = appendPad(dst, r.intn(10_000_000), 7)
		dst = append(dst, `","type":"mobile"}]`...)
	}
	if enterprise {
		dst = append(dst, `,"`+scimEnterpriseURN+`":{"employeeNumber":"`...)
		dst = appendInt(dst, int64(10000+i))
		dst = append(dst, `","organization":"Example Corp","department":`...)
		dst = jsonw.AppendString(dst, pick(&r, departments))
		if i > 0 && r.chance(0.7) {
			dst = append(dst, `,"manager":{"value":"ext-`...)
			dst = appendInt(dst, int64(r.intn(i)))
			dst = append(dst, `"}`...)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
