package transform

import "bytes"

// auth0ReservedAppMetadata are the names Auth0 refuses at the top of app_metadata (Auth0
// docs, "Metadata field names and data types", Restrictions; see DESIGN.md).
var auth0ReservedAppMetadata = map[string]bool{
	"__tenant": true, "_id": true, "blocked": true, "clientID": true, "created_at": true,
	"email_verified": true, "email": true, "globalClientID": true, "global_client_id": true,
	"identities": true, "lastIP": true, "lastLogin": true, "loginsCount": true,
	"metadata": true, "multifactor_last_modified": true, "multifactor": true,
	"updated_at": true, "user_id": true,
}

// auth0RootFields are root profile attributes that rules and actions would see overwritten
// by an app_metadata member of the same name (Auth0 docs, "Name collisions": app_metadata
// is merged into the root profile). Names already in the reserved list are left to that
// rule. groups is not a normalized attribute but is what SAML/enterprise connections add,
// and is the docs' own example.
var auth0RootFields = map[string]bool{
	"name": true, "nickname": true, "picture": true, "given_name": true, "family_name": true,
	"username": true, "phone_number": true, "phone_verified": true, "user_metadata": true,
	"app_metadata": true, "last_ip": true, "last_login": true, "logins_count": true,
	"last_password_reset": true, "groups": true, "locale": true,
}

// Key names that say their value is a secret or a national identifier, whatever it looks
// like. Matched after lower-casing and dropping '_', '-' and ' '.
type keyHint uint8

const (
	hintNone keyHint = iota
	hintSecret
	hintNationalID
	hintCard
)

var keyHints = map[string]keyHint{
	"password": hintSecret, "passwd": hintSecret, "pwd": hintSecret, "secret": hintSecret,
	"clientsecret": hintSecret, "apikey": hintSecret, "apisecret": hintSecret,
	"accesstoken": hintSecret, "refreshtoken": hintSecret, "idtoken": hintSecret,
	"privatekey": hintSecret, "token": hintSecret, "authtoken": hintSecret,
	"sessiontoken": hintSecret, "bearertoken": hintSecret, "pin": hintSecret,
	"ssn": hintNationalID, "socialsecurity": hintNationalID, "socialsecuritynumber": hintNationalID,
	"nationalid": hintNationalID, "nationalidnumber": hintNationalID, "nir": hintNationalID,
	"insee": hintNationalID, "numerosecu": hintNationalID, "numerosecuritesociale": hintNationalID,
	"passport": hintNationalID, "passportnumber": hintNationalID, "taxid": hintNationalID,
	"nino": hintNationalID, "personnummer": hintNationalID, "mynumber": hintNationalID,
	"creditcard": hintCard, "cardnumber": hintCard, "ccnumber": hintCard, "creditcardnumber": hintCard,
}

var keyHintSuffixes = []struct {
	s string
	h keyHint
}{
	{"password", hintSecret}, {"secret", hintSecret}, {"apikey", hintSecret},
	{"privatekey", hintSecret}, {"accesstoken", hintSecret}, {"refreshtoken", hintSecret},
	{"ssn", hintNationalID}, {"cardnumber", hintCard},
}

// keyHintOf classifies a member name without allocating (the hot path calls it per key).
func keyHintOf(key []byte) keyHint {
	if len(key) < 3 || len(key) > 40 {
		return hintNone
	}
	var buf [40]byte
	n := 0
	for _, c := range key {
		switch {
		case c == '_' || c == '-' || c == ' ':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 0x80:
			return hintNone
		}
		buf[n] = c
		n++
	}
	if h, ok := keyHints[string(buf[:n])]; ok {
		return h
	}
	for _, sfx := range keyHintSuffixes {
		if n > len(sfx.s) && string(buf[n-len(sfx.s):n]) == sfx.s {
			return sfx.h
		}
	}
	return hintNone
}

// dynamicKeyKind says what kind of data a member name looks like ("" if it looks like a
// static field name). Auth0 asks for static names: data as keys defeats the search index.
func dynamicKeyKind(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	digits, hex, at, dot, pipe, colon := 0, 0, -1, false, false, false
	for i, c := range key {
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			hex++
		case c == '@':
			if at < 0 {
				at = i
			}
		case c == '.':
			if at >= 0 {
				dot = true
			}
		case c == '|':
			pipe = true
		case c == ':':
			colon = true
		}
	}
	switch {
	case at > 0 && dot:
		return "e-mail"
	case digits == len(key):
		return "number"
	case isUUIDKey(key):
		return "uuid"
	case isDateKey(key):
		return "date"
	case hex == len(key) && len(key) >= 16 && digits > 0:
		return "hex id"
	case pipe && at < 0 && len(key) > 3:
		return "user id"
	case colon && bytes.Contains(key, []byte("://")):
		return "url"
	}
	return ""
}

func isUUIDKey(k []byte) bool {
	if len(k) != 36 {
		return false
	}
	for i, c := range k {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}

// isDateKey matches names that start with an ISO date (2024-01-31, 2024-01-31T10:00Z).
func isDateKey(k []byte) bool {
	if len(k) < 10 {
		return false
	}
	for i := 0; i < 10; i++ {
		c := k[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
