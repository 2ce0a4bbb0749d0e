package appid

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// iamError is IAM's error shape, e.g. BXNIM0415E "Provided API key could not be found".
type iamError struct {
	Context      iamContext `json:"context"`
	ErrorCode    string     `json:"errorCode"`
	ErrorMessage string     `json:"errorMessage"`
}

type iamContext struct {
	RequestID   string `json:"requestId"`
	RequestType string `json:"requestType"`
	URL         string `json:"url"`
	StartTime   string `json:"startTime"`
}

func (s *Server) iamErr(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, status, iamError{
		Context: iamContext{RequestID: randHex(16), RequestType: "incoming.Identity_Token",
			URL: "/identity/token", StartTime: s.clk.Now().UTC().Format(time.RFC1123)},
		ErrorCode: code, ErrorMessage: msg,
	})
}

// handleToken is IAM's API-key grant: POST /identity/token with a form body
// grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=KEY.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.iamErr(w, r, http.StatusMethodNotAllowed, "BXNIM0007E", "Method not allowed")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.iamErr(w, r, http.StatusBadRequest, "BXNIM0109E", "Property missing or empty. Property=grant_type")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.iamErr(w, r, http.StatusBadRequest, "BXNIM0109E", "Property missing or empty. Property=grant_type")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "urn:ibm:params:oauth:grant-type:apikey":
	case "":
		s.iamErr(w, r, http.StatusBadRequest, "BXNIM0109E", "Property missing or empty. Property=grant_type")
		return
	default:
		s.iamErr(w, r, http.StatusBadRequest, "BXNIM0103E", "Unsupported grant type")
		return
	}
	key := r.PostForm.Get("apikey")
	if key == "" {
		s.iamErr(w, r, http.StatusBadRequest, "BXNIM0109E", "Property missing or empty. Property=apikey")
		return
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
		s.iamErr(w, r, http.StatusBadRequest, "BXNIM0415E", "Provided API key could not be found")
		return
	}
	now := s.clk.Now()
	exp := now.Add(s.cfg.TokenTTL)
	tok := "eyJ" + randHex(32) + "." + randHex(32) + "." + randHex(16)
	s.mu.Lock()
	for t, e := range s.tokens { // forget expired tokens so the map stays small
		if !now.Before(e) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = exp
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  tok,
		"refresh_token": "not_supported",
		"token_type":    "Bearer",
		"expires_in":    int(s.cfg.TokenTTL.Seconds()),
		"expiration":    exp.Unix(),
		"scope":         "ibm openid",
	})
}
