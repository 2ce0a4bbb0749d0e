package gen

import (
	"iter"

	"github.com/ferry-dev/ferry/internal/jsonw"
)

// AppID returns user i as an IBM Cloud App ID users/export item:
// {id, name, email, picture, identities:[{provider, id, idpUserInfo}], attributes, roles}.
func AppID(seed int64, i int, opt Options) []byte {
	return AppendAppID(make([]byte, 0, 1536), seed, i, opt)
}

// AppIDUsers yields users 0..n-1 in the App ID export shape; the slice is reused.
func AppIDUsers(seed int64, n int, opt Options) iter.Seq2[int, []byte] {
	return seq(AppendAppID, seed, n, opt)
}

// AppendAppID appends user i in the App ID users/export item shape to dst. Each identity
// provider nests its profile its own way (Facebook: picture.data.url), as the real service
// returns them.
func AppendAppID(dst []byte, seed int64, i int, opt Options) []byte {
	r := newRNG(seed, saltAppID, i)
	t := traits(&r, opt.Nasty)
	var ebuf [96]byte
	p := newPerson(&r, i, t, ebuf[:0])
	email := string(p.email)
	created := CreatedAt(seed, i)
	modified := created + int64(r.intn(400*dayMS))

	var pbuf [160]byte
	provider := "cloud_directory"
	switch v := r.intn(100); {
	case v >= 85:
		provider = "facebook"
	case v >= 60:
		provider = "google"
	}
	var idbuf [48]byte
	id := idbuf[:0]
	if provider == "cloud_directory" {
		id = appendGUID(id, &r)
	} else {
		id = appendDigits(id, &r, 7)
		id = appendPad(id, i%100_000_000, 8)
	}
	picture := pbuf[:0]
	switch provider {
	case "google":
		picture = appendGooglePicture(picture, &r)
		picture = picture[1 : len(picture)-1]
	case "facebook":
		picture = append(picture, "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid="...)
		picture = append(picture, id...)
		picture = append(picture, "&height=50&width=50&ext=1700000000&hash=Af"...)
		picture = appendHex(picture, &r, 12)
	}

	dst = append(dst, `{"id":"`...)
	dst = appendGUID(dst, &r)
	dst = append(dst, `","name":`...)
	dst = jsonw.AppendString(dst, p.given+" "+p.family)
	dst = append(dst, `,"email":`...)
	dst = jsonw.AppendString(dst, email)
	if len(picture) > 0 {
		dst = append(dst, `,"picture":`...)
		dst = jsonw.AppendString(dst, string(picture))
	}
	dst = append(dst, `,"identities":[{"provider":"`...)
	dst = append(dst, provider...)
	dst = append(dst, `","id":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","idpUserInfo":{`...)
	switch provider {
	case "cloud_directory":
		dst = append(dst, `"displayName":`...)
		dst = jsonw.AppendString(dst, p.given+" "+p.family)
		dst = append(dst, `,"active":true,"mfaContext":{},"emails":[{"value":`...)
		dst = jsonw.AppendString(dst, email)
		dst = append(dst, `,"primary":true}],"meta":{"created":"`...)
		dst = appendTime(dst, created)
		dst = append(dst, `","lastModified":"`...)
		dst = appendTime(dst, modified)
		dst = append(dst, `","resourceType":"User"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"name":{"givenName":`...)
		dst = jsonw.AppendString(dst, p.given)
		dst = append(dst, `,"familyName":`...)
		dst = jsonw.AppendString(dst, p.family)
		dst = append(dst, `,"formatted":`...)
		dst = jsonw.AppendString(dst, p.given+" "+p.family)
		dst = append(dst, `},"id":"`...)
		dst = append(dst, id...)
		dst = append(dst, `","status":"CONFIRMED","idpType":"cloud_directory"`...)
	case "google":
		dst = append(dst, `"sub":"`...)
		dst = append(dst, id...)
		dst = append(dst, `","name":`...)
		dst = jsonw.AppendString(dst, p.given+" "+p.family)
		dst = append(dst, `,"given_name":`...)
		dst = jsonw.AppendString(dst, p.given)
		dst = append(dst, `,"family_name":`...)
		dst = jsonw.AppendString(dst, p.family)
		dst = append(dst, `,"picture":`...)
		dst = jsonw.AppendString(dst, string(picture))
		dst = append(dst, `,"email":`...)
		dst = jsonw.AppendString(dst, email)
		dst = append(dst, `,"email_verified":`...)
		if t&kStringBool != 0 {
			dst = append(dst, `"true"`...)
		} else {
			dst = append(dst, `true`...)
		}
		dst = append(dst, `,"locale":`...)
		dst = jsonw.AppendString(dst, pick(&r, languages))
		dst = append(dst, `,"idpType":"google","id":"`...)
		dst = append(dst, id...)
		dst = append(dst, '"')
	case "facebook":
		dst = append(dst, `"id":"`...)
		dst = append(dst, id...)
		dst = append(dst, `","name":`...)
		dst = jsonw.AppendString(dst, p.given+" "+p.family)
		dst = append(dst, `,"first_name":`...)
		dst = jsonw.AppendString(dst, p.given)
		dst = append(dst, `,"last_name":`...)
		dst = jsonw.AppendString(dst, p.family)
		dst = append(dst, `,"email":`...)
		dst = jsonw.AppendString(dst, email)
		dst = append(dst, `,"picture":{"data":{"height":50,"is_silhouette":false,"url":`...)
		dst = jsonw.AppendString(dst, string(picture))
		dst = append(dst, `,"width":50}},"idpType":"facebook"`...)
	}
	dst = append(dst, `}}],"attributes":{`...)
	dst = append(dst, `"plan":`...)
	dst = jsonw.AppendString(dst, pick(&r, plans))
	dst = append(dst, `,"language":`...)
	dst = jsonw.AppendString(dst, pick(&r, languages))
	if t&kTypeClash != 0 {
		dst = append(dst, `,"points":"`...)
		dst = appendInt(dst, int64(r.intn(10000)))
		dst = append(dst, '"')
	} else {
		dst = append(dst, `,"points":`...)
		dst = appendInt(dst, int64(r.intn(10000)))
	}
	if t&kDottedKey != 0 {
		dst = append(dst, `,"preference.color":`...)
		dst = jsonw.AppendString(dst, pick(&r, colors))
	}
	if t&kDollarKey != 0 {
		dst = append(dst, `,"$theme":"dark"`...)
	}
	if t&kLongString != 0 {
		dst = append(dst, `,"bio":"`...)
		dst = appendLorem(dst, &r, 300+r.intn(600))
		dst = append(dst, '"')
	}
	if t&kCardNumber != 0 {
		dst = append(dst, `,"card":"`...)
		dst = appendCard(dst, &r)
		dst = append(dst, '"')
	}
	if t&kBigProfile != 0 {
		dst = append(dst, `,"notes":"`...)
		dst = appendLorem(dst, &r, 11_000)
		dst = append(dst, '"')
	}
	dst = append(dst, `},"roles":[`...)
	if roles := opt.roles(); r.chance(0.6) {
		dst = jsonw.AppendString(dst, pick(&r, roles))
	}
	return append(dst, `]}`...)
}
