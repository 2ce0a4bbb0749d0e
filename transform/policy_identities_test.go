package transform

import (
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
)

func TestIdentitiesToAppID(t *testing.T) {
	dec, _ := DecoderFor(core.FormatAuth0)
	u, err := dec.Decode([]byte(`{"user_id":"auth0|abc","email":"a@x.org","name":"Ann","picture":"https://p/a.png",
		"identities":[{"connection":"Username-Password-Authentication","provider":"auth0","user_id":"abc","isSocial":false},
		{"connection":"facebook","provider":"facebook","user_id":1234567890,"isSocial":true,"profileData":{"name":"Ann F"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var c Changes
	if err := (identitiesPolicy{}).Apply(u, &c); err != nil {
		t.Fatal(err)
	}
	got := string(u.Ferry.Identities[0]) + " " + string(u.Ferry.Identities[1])
	for _, want := range []string{`"provider":"cloud_directory","id":"abc"`, `"email":"a@x.org"`, `"provider":"facebook","id":"1234567890","idpUserInfo":{"name":"Ann F"}`} {
		if !strings.Contains(got, want) {
			t.Errorf("identities %s lack %s", got, want)
		}
	}
	if len(c.List) != 2 || !strings.Contains(string(c.List[1].Before), `"user_id":1234567890`) {
		t.Errorf("changes %+v: want both identities with the originals", c.List)
	}
	enc, _ := EncoderFor(core.FormatAppID)
	if _, err := enc.Encode(nil, u); err != nil {
		t.Errorf("App ID encode after the policy: %v", err)
	}
}

func TestIdentitiesLeavesOtherProvidersAlone(t *testing.T) {
	dec, _ := DecoderFor(core.FormatAppID)
	u, err := dec.Decode([]byte(`{"id":"1","email":"a@x.org","identities":[{"provider":"google","id":"9","idpUserInfo":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	before := string(u.Ferry.Identities[0])
	var c Changes
	if err := (identitiesPolicy{}).Apply(u, &c); err != nil || len(c.List) != 0 || string(u.Ferry.Identities[0]) != before {
		t.Errorf("App ID identities rewritten: %v %+v", err, c.List)
	}
}
