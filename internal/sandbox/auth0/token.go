package auth0

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// The access token is a JWT-shaped string (header.claims.signature) signed with HMAC-SHA256
// under a per-server key: clients that read "exp" to refresh early can, and a token from one
// sandbox is refused by another, like tokens of two tenants.
type tokenClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Scope string `json:"scope"`
	Gty   string `json:"gty"`
	Azp   string `json:"azp"`
}

var tokenHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"sandbox"}`))

// managementScopes are the scopes a sandbox token grants.
const managementScopes = "read:users update:users delete:users create:users read:users_app_metadata " +
	"update:users_app_metadata create:users_app_metadata read:roles create:roles update:roles " +
	"delete:roles read:resource_servers create:resource_servers update:resource_servers " +
	"read:connections read:role_members create:role_members"

func (s *Server) audience() string { return "https://" + s.cfg.Domain + "/api/v2/" }

func (s *Server) signToken(now time.Time, ttl time.Duration) string {
	c := tokenClaims{
		Iss: "https://" + s.cfg.Domain + "/", Sub: s.cfg.ClientID + "@clients", Aud: s.audience(),
		Iat: now.Unix(), Exp: now.Add(ttl).Unix(), Scope: managementScopes,
		Gty: "client-credentials", Azp: s.cfg.ClientID,
	}
	b, _ := json.Marshal(c)
	payload := tokenHeader + "." + base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + s.sign(payload)
}

func (s *Server) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkToken validates a bearer token; it returns the 401 message Auth0 gives, or "".
func (s *Server) checkToken(r *http.Request, now time.Time) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "Missing authentication"
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "Bad HTTP authentication header format"
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "Invalid token"
	}
	want := s.sign(parts[0] + "." + parts[1])
	if subtle.ConstantTimeCompare([]byte(want), []byte(parts[2])) != 1 {
		return "Invalid token"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c tokenClaims
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return "Invalid token"
	}
	if c.Aud != s.audience() {
		return "Bad audience: " + c.Aud
	}
	if now.Unix() >= c.Exp {
		return "Expired token received for JSON Web Token validation"
	}
	return ""
}

func writeUnauthorized(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+"Auth0"+`", error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, apiError{
		StatusCode: http.StatusUnauthorized, Error: "Unauthorized", Message: message,
		Attributes: map[string]string{"error": message},
	})
}

// oauthError is the Authentication API error body (RFC 6749 §5.2), as Auth0 sends it: a
// wrong client secret or an unknown client is 401 {"error":"access_denied",
// "error_description":"Unauthorized"} (auth0/node-auth0 issues #428, #682), a client without
// the grant 403 unauthorized_client with an error_uri (auth0/ruby-auth0 issue #190).
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]string{"error": code, "error_description": desc}
	if code == "unauthorized_client" {
		body["error_uri"] = "https://auth0.com/docs/clients/client-grant-types"
	}
	writeJSON(w, status, body)
}

// handleToken implements the client-credentials grant of POST /oauth/token, with a form or
// a JSON body.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "payload too large")
		return
	}
	var p struct {
		GrantType    string `json:"grant_type"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Audience     string `json:"audience"`
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if json.Unmarshal(body, &p) != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid JSON body")
			return
		}
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid form body")
			return
		}
		p.GrantType, p.ClientID, p.ClientSecret, p.Audience =
			v.Get("grant_type"), v.Get("client_id"), v.Get("client_secret"), v.Get("audience")
	default:
		oauthError(w, http.StatusBadRequest, "invalid_request",
			"Content-Type must be application/json or application/x-www-form-urlencoded")
		return
	}
	// HTTP Basic client authentication (RFC 6749 §2.3.1) is accepted too.
	if id, secret, ok := r.BasicAuth(); ok && p.ClientID == "" {
		p.ClientID, p.ClientSecret = id, secret
	}
	switch {
	case p.GrantType == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
		return
	case p.GrantType != "client_credentials" || s.cfg.NoClientCredentials:
		oauthError(w, http.StatusForbidden, "unauthorized_client", "Grant type '"+p.GrantType+"' not allowed for the client.")
		return
	case p.ClientID == "":
		oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
		return
	}
	idOK := subtle.ConstantTimeCompare([]byte(p.ClientID), []byte(s.cfg.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(p.ClientSecret), []byte(s.cfg.ClientSecret)) == 1
	if !idOK || !secretOK {
		oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
		return
	}
	if strings.TrimSuffix(p.Audience, "/") != strings.TrimSuffix(s.audience(), "/") {
		oauthError(w, http.StatusForbidden, "access_denied", "Service not enabled within domain: "+p.Audience)
		return
	}
	now := s.clock.Now()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.signToken(now, s.cfg.TokenTTL),
		"token_type":   "Bearer",
		"expires_in":   int64(s.cfg.TokenTTL / time.Second),
		"scope":        managementScopes,
	})
}
