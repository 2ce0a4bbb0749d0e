package transform

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func TestSearchSize(t *testing.T) {
	long := strings.Repeat("é", 300) // 300 characters, 600 bytes
	um := fmt.Sprintf(`{"bio":%q,"short":%q}`, long, strings.Repeat("x", 256))
	for _, tc := range []struct {
		truncate bool
		wantLen  int
		kind     string
	}{
		{false, 300, "warning"},
		{true, 256, "rewritten"},
	} {
		u := testUser("u", "", um)
		chs, err := apply(t, cfgWith(func(c *PolicyConfig) { c.TruncateSearch = tc.truncate }), u)
		if err != nil {
			t.Fatal(err)
		}
		if len(chs) != 1 || chs[0].Rule != RuleSearchSize || chs[0].Path != "user_metadata.bio" || ChangeKind(chs[0]) != tc.kind {
			t.Fatalf("truncate=%v: changes %+v", tc.truncate, chs)
		}
		v, _ := mdParse(u.Ferry.UserMetadata)
		bio, _ := v.get("bio")
		if n := len([]rune(bio.s)); n != tc.wantLen {
			t.Errorf("truncate=%v: bio has %d characters, want %d", tc.truncate, n, tc.wantLen)
		}
		if tc.truncate {
			var before string
			if err := json.Unmarshal(chs[0].Before, &before); err != nil || before != long {
				t.Errorf("the full value must stay in the change log: %v", err)
			}
		}
	}
}

func TestProfileSize(t *testing.T) {
	for _, tc := range []struct {
		size    int
		wantRej bool
		warn    bool
	}{
		{1000, false, false},
		{11 * 1024, false, true},
		{1100 * 1024, true, false},
	} {
		u := testUser("u", "", fmt.Sprintf(`{"blob":[%s"x"]}`, strings.Repeat(`"abcdefgh",`, tc.size/11)))
		chs, err := apply(t, DefaultPolicyConfig(), u)
		if (rejectionRule(err) == RuleProfileSize) != tc.wantRej {
			t.Fatalf("size %d: err %v", tc.size, err)
		}
		if got := strings.Contains(rulesOf(chs), RuleProfileSize); got != tc.warn {
			t.Errorf("size %d: profile-size warning %v, want %v", tc.size, got, tc.warn)
		}
	}
	// The bound never under-estimates.
	u := testUser("u<>&\u2028", `{"a":"<script>"}`, `{"b":"\u0001"}`)
	u.Emails = []schemas.MultiValued{{Value: "a<b>@x.io", Primary: true}}
	b, _ := json.Marshal(u)
	if bound := profileSizeBound(u); bound < len(b) {
		t.Fatalf("bound %d < size %d", bound, len(b))
	}
}

func TestSignupLimits(t *testing.T) {
	on := func(c *PolicyConfig) { c.SignupLimits = true }
	many := "{"
	for i := 0; i < 11; i++ {
		many += fmt.Sprintf(`"f%d":"x",`, i)
	}
	many = strings.TrimSuffix(many, ",") + "}"
	runMetaCases(t, []metaCase{
		{name: "fits", mod: on, um: `{"a":"x","b":"y"}`},
		{name: "off by default", um: many},
		{name: "too many fields", mod: on, um: many, wantRej: RuleSignupLimits},
		{name: "not a string", mod: on, um: `{"a":1}`, wantRej: RuleSignupLimits},
		{name: "too long", mod: on, um: fmt.Sprintf(`{"a":%q}`, strings.Repeat("x", 501)), wantRej: RuleSignupLimits},
	})
}

func TestCheckClientMetadata(t *testing.T) {
	for raw, ok := range map[string]bool{
		`{"homepage":"https://x.io"}`: true,
		``:                            true,
		`{"a":1}`:                     false,
		`{"a":"é"}`:                   false,
		`[1]`:                         false,
		`{"a":`:                       false,
		fmt.Sprintf(`{"a":%q}`, strings.Repeat("x", 256)):                                           false,
		`{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1","g":"1","h":"1","i":"1","j":"1","k":"1"}`: false,
	} {
		if err := CheckClientMetadata([]byte(raw)); (err == nil) != ok {
			t.Errorf("CheckClientMetadata(%.40s) = %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestPictures(t *testing.T) {
	photo := func(url string, primary bool) schemas.MultiValued {
		return schemas.MultiValued{Value: url, Type: "photo", Primary: primary}
	}
	fb := json.RawMessage(`{"provider":"facebook","id":"1","idpUserInfo":{"picture":{"data":{"url":"https://fb.example/p.jpg"}}}}`)
	linked := json.RawMessage(`{"provider":"google-oauth2","user_id":"2","profileData":{"picture":"https://g.example/p.png"}}`)
	for _, tc := range []struct {
		name   string
		mod    func(*PolicyConfig)
		photos []schemas.MultiValued
		um     string
		ids    []json.RawMessage
		want   []string // photo values, primary first marked with *
		rules  string
	}{
		{name: "metadata picture overrides", photos: []schemas.MultiValued{photo("https://old.example/a.png", true)},
			um: `{"picture":"https://up.example/me.png"}`, want: []string{"*https://up.example/me.png", "https://old.example/a.png"},
			rules: "picture-override@picture"},
		{name: "override off", mod: func(c *PolicyConfig) { c.PictureOverride = false },
			photos: []schemas.MultiValued{photo("https://old.example/a.png", true)},
			um:     `{"picture":"https://up.example/me.png"}`, want: []string{"*https://old.example/a.png"}},
		{name: "already the root picture", photos: []schemas.MultiValued{photo("https://up.example/me.png", true)},
			um: `{"picture":"https://up.example/me.png"}`, want: []string{"*https://up.example/me.png"}},
		{name: "default picture", mod: func(c *PolicyConfig) { c.DefaultPicture = "https://cdn.example/default.png" },
			want: []string{"*https://cdn.example/default.png"}, rules: "default-picture@picture"},
		{name: "default not needed", mod: func(c *PolicyConfig) { c.DefaultPicture = "https://cdn.example/default.png" },
			photos: []schemas.MultiValued{photo("https://old.example/a.png", true)}, want: []string{"*https://old.example/a.png"}},
		{name: "nested provider pictures flattened", ids: []json.RawMessage{fb, linked},
			want:  []string{"*https://fb.example/p.jpg", "https://g.example/p.png"},
			rules: "picture-flatten@identities[0].idpUserInfo.picture.data.url picture-flatten@identities[1].profileData.picture"},
		{name: "flattened pictures do not hide the default", mod: func(c *PolicyConfig) { c.DefaultPicture = "https://cdn.example/d.png" },
			ids: []json.RawMessage{fb}, want: []string{"*https://fb.example/p.jpg"},
			rules: "picture-flatten@identities[0].idpUserInfo.picture.data.url"},
		{name: "metadata picture not a URL", photos: []schemas.MultiValued{photo("https://old.example/a.png", true)},
			um: `{"picture":"data:image/png;base64,iVBORw0KGgo="}`, want: []string{"*https://old.example/a.png"},
			rules: "picture-override@user_metadata.picture"},
		{name: "metadata picture as a Graph object", um: `{"picture":{"data":{"url":"https://fb.example/me.jpg"}}}`,
			want: []string{"*https://fb.example/me.jpg"}, rules: "picture-override@picture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := testUser("u", "", tc.um)
			u.Photos = tc.photos
			u.Ferry.Identities = tc.ids
			chs, err := apply(t, cfgWith(tc.mod), u)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range u.Photos {
				s := p.Value
				if p.Primary {
					s = "*" + s
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("photos %v, want %v", got, tc.want)
			}
			if r := rulesOf(chs); r != tc.rules {
				t.Errorf("changes %q, want %q", r, tc.rules)
			}
		})
	}
}
