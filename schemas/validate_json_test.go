package schemas

import (
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

const (
	ent   = EnterpriseUserURN
	ferry = FerryUserURN
)

// rec builds a record from a core-listing prefix and the rest of its members.
func rec(members string) string {
	if members != "" {
		members = "," + members
	}
	return `{"schemas":["` + CoreUserURN + `"],"userName":"bjensen"` + members + `}`
}

func TestValidateJSONTypicalUserIsValid(t *testing.T) {
	b, err := json.Marshal(typicalUser())
	if err != nil {
		t.Fatal(err)
	}
	if vs := ValidateJSON(b); vs != nil {
		t.Fatalf("%s\n%v", b, Violations(vs))
	}
}

func TestValidateJSON(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"minimal", rec(""), nil},
		{"empty input", " \n", []string{"(record): empty: no JSON value"}},
		{"not an object", `["a"]`, []string{"(record): expected a JSON object (a SCIM User), got array"}},
		{"a string", `"bjensen"`, []string{"(record): expected a JSON object (a SCIM User), got string"}},
		{"truncated", `{"userName":"x","active":tr`, []string{"(record): malformed JSON: unexpected end of input"}},
		{"syntax error keeps earlier violations", `{"active":"yes","userName":}`, []string{
			"active: expected boolean, got string",
			"(record): malformed JSON at byte 27: invalid character '}' looking for beginning of value",
		}},
		{"two values", rec("") + ` {}`, []string{"(record): more than one JSON value: object after the object"}},
		{"trailing garbage", rec("") + `x`, []string{"(record): malformed JSON after the object: invalid character 'x' looking for beginning of value"}},

		{"userName missing", `{"schemas":["` + CoreUserURN + `"]}`, []string{"userName: required and must not be empty"}},
		{"userName null", `{"schemas":["` + CoreUserURN + `"],"userName":null}`, []string{"userName: required and must not be empty"}},
		{"userName blank", `{"schemas":["` + CoreUserURN + `"],"userName":"  "}`, []string{"userName: required and must not be empty"}},
		{"userName a number", `{"schemas":["` + CoreUserURN + `"],"userName":42}`, []string{"userName: expected string, got number"}},
		{"userName invalid UTF-8", "{\"schemas\":[\"" + CoreUserURN + "\"],\"userName\":\"b\xffj\"}", []string{"userName: not valid UTF-8"}},

		{"types", rec(`"active":"true","displayName":true,"name":"Babs","emails":{"value":"x"},"password":1,"profileUrl":[]`), []string{
			"active: expected boolean, got string",
			"displayName: expected string, got boolean",
			"name: expected complex (object), got string",
			"emails: expected array of complex, got object",
			"password: expected string, got number",
			"profileUrl: expected string (reference), got array",
		}},
		{"sub-attribute types", rec(`"emails":[{"value":"a@x","primary":1},{"value":7,"type":["work"]}],"name":{"givenName":{"x":1}}`), []string{
			"emails[0].primary: expected boolean, got number",
			"emails[1].value: expected string, got number",
			"emails[1].type: expected string, got array",
			"name.givenName: expected string, got object",
		}},
		{"elements of the wrong type", rec(`"emails":["a@x",null,3]`), []string{
			"emails[0]: expected complex (object), got string",
			"emails[1]: expected complex (object), got null",
			"emails[2]: expected complex (object), got number",
		}},
		{"null is unassigned", rec(`"name":null,"emails":null,"active":null,"displayName":null,"` + ent + `":null`), nil},
		{"names are case-insensitive", `{"SCHEMAS":["` + CoreUserURN + `"],"UserName":"x","EMAILS":[{"VALUE":"a@x","Type":"Work","PRIMARY":true}]}`, nil},
		{"repeated attribute", rec(`"displayName":"a","DISPLAYNAME":"b","emails":[{"value":"a","Value":"b"}]`), []string{
			"DISPLAYNAME: given more than once (attribute names are case-insensitive)",
			"emails[0].Value: given more than once (attribute names are case-insensitive)",
		}},
		{"unknown attributes", rec(`"nick":"x","emails":[{"value":"a","label":"home"}],"urn:example:ext:User":{}`), []string{
			"nick: unknown attribute: not in the core User schema, a known extension or the common attributes",
			"emails[0].label: unknown sub-attribute of emails",
			"urn:example:ext:User: extension data under this URN, but schemas does not list it",
		}},
		{"custom extension listed is accepted", `{"schemas":["` + CoreUserURN + `","urn:example:ext:User"],"userName":"x","urn:example:ext:User":{"a":[1,{"b":null}]}}`, nil},
		{"custom extension listed case-insensitively", `{"schemas":["` + CoreUserURN + `","URN:Example:Ext:User"],"userName":"x","urn:example:ext:User":{"a":1}}`, nil},
		{"custom extension data not an object", `{"schemas":["` + CoreUserURN + `","urn:example:ext:User"],"userName":"x","urn:example:ext:User":[1]}`, []string{
			"urn:example:ext:User: expected object (extension data), got array",
		}},
		{"custom extension null is unassigned", rec(`"urn:example:ext:User":null`), nil},
		{"unknown key with control characters is quoted", rec(`"a\nb":1`), []string{
			`"a\nb": unknown attribute: not in the core User schema, a known extension or the common attributes`,
		}},
		{"common attributes", rec(`"id":"2819c223","externalId":"701984","meta":{"resourceType":"User","created":"2010-01-23T04:56:22Z","lastModified":"soon","version":3}`), []string{
			`meta.lastModified: "soon" is not an xsd:dateTime (e.g. 2008-01-23T04:56:22Z)`,
			"meta.version: expected string, got number",
		}},

		{"two primaries", rec(`"emails":[{"value":"a","primary":true},{"value":"b","primary":false},{"value":"c","primary":true}],"addresses":[{"primary":true},{"primary":true}]`), []string{
			"emails[2].primary: a second primary value: emails[0] is already primary (at most one may be)",
			"addresses[1].primary: a second primary value: addresses[0] is already primary (at most one may be)",
		}},
		{"groups have no primary", rec(`"groups":[{"value":"g","primary":true}]`), []string{
			"groups[0].primary: unknown sub-attribute of groups",
		}},
		{"canonical types", rec(`"emails":[{"value":"a","type":"personal"}],"phoneNumbers":[{"value":"1","type":"MOBILE"},{"value":"2","type":"cell"}],"ims":[{"value":"i","type":"signal"}],"photos":[{"value":"https://x","type":"avatar"}],"roles":[{"value":"r","type":"any"}]`), []string{
			`emails[0].type: "personal" is not a canonical value (work, home, other)`,
			`phoneNumbers[1].type: "cell" is not a canonical value (work, home, mobile, fax, pager, other)`,
			`ims[0].type: "signal" is not a canonical value (aim, gtalk, icq, xmpp, msn, skype, qq, yahoo)`,
			`photos[0].type: "avatar" is not a canonical value (photo, thumbnail)`,
		}},
		{"empty values", rec(`"emails":[{"type":"work"},{"value":""},{"value":null}],"roles":[{"value":" "}],"addresses":[{"country":"FR"}]`), []string{
			"emails[0].value: missing or empty: each entry of a multi-valued attribute needs a value",
			"emails[1].value: missing or empty: each entry of a multi-valued attribute needs a value",
			"emails[2].value: missing or empty: each entry of a multi-valued attribute needs a value",
			"roles[0].value: missing or empty: each entry of a multi-valued attribute needs a value",
		}},
		{"x509 binary", rec(`"x509Certificates":[{"value":"TUlJQw=="},{"value":"-----BEGIN"}]`), []string{
			"x509Certificates[1].value: not base64 (binary, RFC 7643 §2.3.6)",
		}},

		{"schemas not an array", `{"schemas":"` + CoreUserURN + `","userName":"x"}`, []string{
			"schemas: expected array of string, got string",
			"schemas: does not list the core schema urn:ietf:params:scim:schemas:core:2.0:User",
		}},
		{"schemas entries", `{"schemas":["` + CoreUserURN + `",1,"x","` + strings.ToUpper(CoreUserURN) + `","urn:a:b","URN:A:B"],"userName":"x"}`, []string{
			"schemas[1]: expected string, got number",
			`schemas[2]: "x" is not a schema URN (a User schema is named by a URN, RFC 7643 §3)`,
			`schemas[3]: "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER" is listed twice (as schemas[0] too)`,
			`schemas[5]: "URN:A:B" is listed twice (as schemas[4] too)`,
		}},
		{"extension not listed", rec(`"` + ent + `":{"employeeNumber":"1"},"` + ferry + `":{"provider":"auth0"}`), []string{
			"schemas: does not list urn:ietf:params:scim:schemas:extension:enterprise:2.0:User although the user carries enterprise extension attributes",
			"schemas: does not list urn:ferry:params:scim:schemas:extension:ferry:1.0:User although the user carries ferry extension attributes",
		}},
		{"extension listed, URN key in another case", `{"schemas":["` + CoreUserURN + `","` + ent + `"],"userName":"x","` + strings.ToUpper(ent) + `":{"EmployeeNumber":"1"}}`, nil},
		{"extension attributes", `{"schemas":["` + CoreUserURN + `","` + ent + `","` + ferry + `"],"userName":"x",` +
			`"` + ent + `":{"manager":{"value":5,"$ref":"../Users/1"},"badge":"x"},` +
			`"` + ferry + `":{"emailVerified":"true","identities":[{"provider":"auth0","user_id":123},"x"],"appMetadata":[1],"passwordHash":7}}`, []string{
			ent + ":manager.value: expected string, got number",
			ent + ":badge: unknown attribute of the enterprise extension",
			ferry + ":emailVerified: expected boolean, got string",
			ferry + ":identities[1]: expected object, got string",
			ferry + ":appMetadata: expected object, got array",
			ferry + ":passwordHash: expected string, got number",
		}},
		{"extension not an object", `{"schemas":["` + CoreUserURN + `","` + ent + `"],"userName":"x","` + ent + `":"dept"}`, []string{
			ent + ": expected object (the enterprise extension), got string",
		}},
		{"opaque metadata with invalid UTF-8", `{"schemas":["` + CoreUserURN + `","` + ferry + `"],"userName":"x","` + ferry + "\":{\"userMetadata\":{\"a\":[\"\xff\"]}}}", []string{
			ferry + ":userMetadata: not valid UTF-8",
		}},
		{"lone surrogate escapes", rec(`"displayName":"\ud800","nickName":"x\udc00y","title":"\ud83d\ude00 ok","locale":"\\ud800 is text","timezone":"\ud800\u0041","userType":"\ud800\ud800\udc00"`), []string{
			"displayName: not valid UTF-8",
			"nickName: not valid UTF-8",
			"timezone: not valid UTF-8",
			"userType: not valid UTF-8",
		}},
		{"key with invalid UTF-8", rec("\"user\xffName\":\"x\""), []string{
			"\"user\ufffdName\": attribute name is not valid UTF-8",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(ValidateJSON([]byte(tt.raw)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("ValidateJSON(%s):\ngot  %q\nwant %q", tt.raw, got, tt.want)
			}
		})
	}
}

// A secret's value never appears in a message, whatever is wrong with it.
func TestValidateJSONDoesNotShowSecrets(t *testing.T) {
	raw := `{"schemas":["` + CoreUserURN + `","` + ferry + `"],"userName":"x","password":"hunter2\u0000",` +
		`"` + ferry + "\":{\"passwordHash\":\"$2b$10$secret\xff\",\"customPasswordHash\":\"s3cr3t\",\"mfaFactors\":{\"totp\":{\"secret\":\"JBSWY3DP\"}}}}"
	vs := ValidateJSON([]byte(raw))
	if len(vs) != 3 {
		t.Fatalf("want 3 violations, got %v", Violations(vs))
	}
	for _, secret := range []string{"hunter2", "$2b$10$", "s3cr3t", "JBSWY3DP"} {
		if strings.Contains(Violations(vs).Error(), secret) {
			t.Errorf("violations show %q: %v", secret, Violations(vs))
		}
	}
}

func TestValidateJSONCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"schemas":["` + CoreUserURN + `"],"userName":"x","emails":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"value":"a","type":"bad"}`)
	}
	b.WriteString(`]}`)
	vs := ValidateJSON([]byte(b.String()))
	if len(vs) != maxViolations+1 || vs[maxViolations].Msg != "900 more violations not listed" {
		t.Fatalf("got %d violations, last %v", len(vs), vs[len(vs)-1])
	}
}

// Repeats are found in objects too large for the small list too (a hostile record).
func TestValidateJSONRepeatsInLargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"schemas":["` + CoreUserURN + `"],"userName":"x","` + ferry + `":{`)
	b.WriteString(`"Extra":{}`)
	for i := 0; i < 2*keySetListMax; i++ {
		b.WriteString(`,"k` + strings.Repeat("x", i) + `":1`)
	}
	b.WriteString(`,"extra":{},"EXTRA":{},"kXX":2}}`)
	got := strs(ValidateJSON([]byte(b.String())))
	var want []string
	for i := 0; i < 2*keySetListMax; i++ {
		want = append(want, ferry+":k"+strings.Repeat("x", i)+": unknown attribute of the ferry extension")
	}
	want = append(want,
		ferry+":extra: given more than once (attribute names are case-insensitive)",
		ferry+":EXTRA: given more than once (attribute names are case-insensitive)",
		ferry+":kXX: given more than once (attribute names are case-insensitive)",
		"schemas: does not list "+ferry+" although the user carries ferry extension attributes",
	)
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
