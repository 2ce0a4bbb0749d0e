package transform

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// nir builds a valid 15-digit NIR from its first 13 digits.
func nir(first13 string) string {
	var n uint64
	for _, c := range first13 {
		n = n*10 + uint64(c-'0')
	}
	return fmt.Sprintf("%s%02d", first13, 97-n%97)
}

func TestPIIFind(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string // kinds found, masked string
	}{
		{"4111111111111111", "****1111"},
		{"4111 1111 1111 1111", "****1111"},
		{"card: 5500-0000-0000-0004 exp 12/29", "card: ****0004 exp 12/29"},
		{"378282246310005", "****0005"},            // Amex, 15 digits
		{"4111111111111112", "4111111111111112"},   // Luhn fails
		{"1712345678901", "1712345678901"},         // a millisecond timestamp
		{"+33 6 12 34 56 78", "+33 6 12 34 56 78"}, // a phone number
		{"123-45-6789", "****6789"},                // SSN
		{"666-45-6789", "666-45-6789"},             // never issued
		{"123456789", "123456789"},                 // 9 bare digits: not without a hint
		{nir("1850578006084"), "****" + nir("1850578006084")[11:]},
		{"185057800608400", "185057800608400"}, // NIR with a wrong key
		{"4111111111111111 and 123-45-6789", "****1111 and ****6789"},
		{"", ""},
	} {
		ms := piiFind(tc.s)
		if got := piiMaskString(tc.s, ms); got != tc.want {
			t.Errorf("mask(%q) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestPIIModes(t *testing.T) {
	um := `{"billing":{"card":"4111 1111 1111 1111","note":"call me"},"ssn_hint":{"ssn":"078051120"},"api_key":"sk_live_abcdef","ts":1712345678901}`
	for _, tc := range []struct {
		mode    string
		wantRej bool
		wantUM  string
		kinds   string
	}{
		{PIIWarn, false, um, "warning warning warning"},
		{PIIRedact, false, `{"billing":{"card":"****1111","note":"call me"},"ssn_hint":{"ssn":"****1120"},"api_key":"[redacted]","ts":1712345678901}`, "rewritten rewritten rewritten"},
		{PIIReject, true, "", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			u := testUser("u", "", um)
			chs, err := apply(t, cfgWith(func(c *PolicyConfig) { c.PII = tc.mode; c.Target = TargetFile }), u)
			if (err != nil) != tc.wantRej {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if rejectionRule(err) != RulePII || strings.Contains(err.Error(), "4111") {
					t.Fatalf("bad rejection %v", err)
				}
				return
			}
			if got := string(u.Ferry.UserMetadata); compact(t, got) != compact(t, tc.wantUM) {
				t.Errorf("user_metadata = %s\nwant %s", got, tc.wantUM)
			}
			var kinds []string
			for _, ch := range chs {
				kinds = append(kinds, ChangeKind(ch))
			}
			if got := strings.Join(kinds, " "); got != tc.kinds {
				t.Errorf("change kinds %q, want %q (%s)", got, tc.kinds, rulesOf(chs))
			}
			assertNoSecrets(t, chs)
		})
	}
}

var cardRun = regexp.MustCompile(`\d(?:[ -]?\d){12,18}`)

// assertNoSecrets fails if a change carries a Luhn-valid card number or a known secret.
func assertNoSecrets(t testing.TB, chs []Change) {
	t.Helper()
	for _, ch := range chs {
		all := ch.Path + string(ch.Before) + string(ch.After) + ch.Note
		for _, m := range cardRun.FindAllString(all, -1) {
			if len(piiFind(m)) > 0 {
				t.Errorf("change %s@%s carries PII %q", ch.Rule, ch.Path, m)
			}
		}
		for _, secret := range []string{"sk_live", "078051120", "hunter2"} {
			if strings.Contains(all, secret) {
				t.Errorf("change %s@%s carries the secret %q", ch.Rule, ch.Path, secret)
			}
		}
	}
}

// Values other rules move or drop go to the log masked too.
func TestPIIMaskedInOtherRules(t *testing.T) {
	u := testUser("u", `{"email":"x","multifactor":{"backup":"4111111111111111","password":"hunter2"}}`, "")
	chs, err := apply(t, cfgWith(func(c *PolicyConfig) { c.ReservedMode = ReservedDrop }), u)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rulesOf(chs), "reserved-keys@app_metadata.multifactor") {
		t.Fatalf("changes %s", rulesOf(chs))
	}
	assertNoSecrets(t, chs)
}
