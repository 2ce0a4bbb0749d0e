package transform

import (
	"bytes"
	"net/url"

	"github.com/ferry-dev/ferry/schemas"
)

// picturePolicy settles the root picture (SCIM photos; Auth0's root "picture").
//   - Provider pictures nested in linked identities (Facebook's picture.data.url, an Auth0
//     secondary's profileData.picture, App ID's idpUserInfo.picture) become photos.
//   - user_metadata.picture, where Auth0 apps store an uploaded picture, replaces the root
//     picture: Auth0's docs do it in a post-login action; a migration does it once, so
//     every target sees the picture the user chose. The previous one stays as a photo.
//   - A user with no picture at all gets --default-picture.
type picturePolicy struct {
	flatten    bool
	override   bool
	defaultURL string
}

var _ Policy = (*picturePolicy)(nil)

func (p *picturePolicy) Name() string { return "pictures" }

func (p *picturePolicy) Apply(u *schemas.User, c *Changes) error {
	if p.flatten && u.Ferry != nil {
		p.flattenIdentities(u, c)
	}
	if p.override && u.Ferry != nil {
		if err := p.overrideFromMetadata(u, c); err != nil {
			return err
		}
	}
	if p.defaultURL != "" && len(u.Photos) == 0 {
		u.Photos = append(u.Photos, schemas.MultiValued{Value: p.defaultURL, Type: "photo", Primary: true})
		c.Add(RuleDefaultPicture, "picture", nil, p.defaultURL, "the user had no picture: --default-picture set")
	}
	return nil
}

var pictureKey = []byte(`"picture"`)

// rootPicture is the index of the photo that plays Auth0's root picture: the primary one,
// else the first.
func rootPicture(u *schemas.User) int {
	for i, ph := range u.Photos {
		if ph.Primary {
			return i
		}
	}
	if len(u.Photos) > 0 {
		return 0
	}
	return -1
}

func hasPhoto(u *schemas.User, url string) bool {
	for _, ph := range u.Photos {
		if ph.Value == url {
			return true
		}
	}
	return false
}

// pictureURL reads a picture member: a URL string, or an object with data.url (Facebook
// Graph) or url.
func pictureURL(v *mdValue) (string, string) {
	switch v.kind {
	case mdString:
		return v.s, ""
	case mdObject:
		if d, at := v.get("data"); at >= 0 && d.kind == mdObject {
			if s, at := d.get("url"); at >= 0 && s.kind == mdString {
				return s.s, ".data.url"
			}
		}
		if s, at := v.get("url"); at >= 0 && s.kind == mdString {
			return s.s, ".url"
		}
	}
	return "", ""
}

func (p *picturePolicy) flattenIdentities(u *schemas.User, c *Changes) {
	for i, raw := range u.Ferry.Identities {
		if !bytes.Contains(raw, pictureKey) {
			continue
		}
		id, err := mdParse(raw)
		if err != nil || id.kind != mdObject {
			continue // identities are opaque here; the mapping that made them validates them
		}
		base := pathIndex("identities", i)
		// Where providers put it: at the top (App ID), under profileData (Auth0 linked
		// accounts), under idpUserInfo or profile (App ID identities).
		for _, holder := range []string{"", "profileData", "idpUserInfo", "profile"} {
			obj, path := id, base
			if holder != "" {
				h, at := id.get(holder)
				if at < 0 || h.kind != mdObject {
					continue
				}
				obj, path = h, pathKey(base, holder)
			}
			pv, at := obj.get("picture")
			if at < 0 {
				continue
			}
			url, sub := pictureURL(pv)
			if url == "" || hasPhoto(u, url) {
				continue
			}
			primary := rootPicture(u) < 0
			u.Photos = append(u.Photos, schemas.MultiValued{Value: url, Type: "photo", Primary: primary})
			note := "provider picture added to photos"
			if primary {
				note += " as the primary picture (the user had none)"
			}
			c.Add(RulePictureFlatten, pathKey(path, "picture")+sub, nil, url, note)
		}
	}
}

func (p *picturePolicy) overrideFromMetadata(u *schemas.User, c *Changes) error {
	raw := u.Ferry.UserMetadata
	if !bytes.Contains(raw, pictureKey) {
		return nil
	}
	md, err := mdParse(raw)
	if err != nil {
		return &Rejection{Rule: RuleMetadataJSON, Path: blobNames[blobUser], Msg: err.Error()}
	}
	if md.kind != mdObject {
		return nil
	}
	pv, at := md.get("picture")
	if at < 0 {
		return nil
	}
	url, _ := pictureURL(pv)
	if url == "" {
		return nil
	}
	if !isHTTPURL(url) {
		// A data: URI or a relative path would make a broken or oversized root picture.
		c.Add(RulePictureOverride, "user_metadata.picture", nil, nil,
			"is not an http(s) URL: the root picture is kept")
		return nil
	}
	ri := rootPicture(u)
	if ri >= 0 && u.Photos[ri].Value == url {
		return nil
	}
	var before any
	note := "user_metadata.picture overrides the root picture (Auth0's post-login action, applied at migration)"
	if ri >= 0 {
		before = u.Photos[ri].Value
		u.Photos[ri].Primary = false
		note += "; the previous picture is kept as a secondary photo"
	}
	// Remove an existing non-primary copy of the URL, then put it first as primary.
	kept := u.Photos[:0]
	for _, ph := range u.Photos {
		if ph.Value != url {
			kept = append(kept, ph)
		}
	}
	u.Photos = append([]schemas.MultiValued{{Value: url, Type: "photo", Primary: true}}, kept...)
	c.Add(RulePictureOverride, "picture", before, url, note)
	return nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
