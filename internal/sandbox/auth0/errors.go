package auth0

import (
	"net/http"
	"strconv"

	"github.com/segmentio/encoding/json"
)

// apiError is the Management API v2 error body:
// {"statusCode":429,"error":"Too Many Requests","message":"...","errorCode":"too_many_requests"}.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	ErrorCode  string `json:"errorCode,omitempty"`
	// Attributes appear on authentication failures ({"error":"Invalid token"}).
	Attributes map[string]string `json:"attributes,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{
		StatusCode: status, Error: http.StatusText(status), Message: message, ErrorCode: code,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		// Only our own types reach here; a failure is a bug worth a 500, not a panic.
		status = http.StatusInternalServerError
		b = []byte(`{"statusCode":500,"error":"Internal Server Error","message":"encoding failed"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Error codes and messages the real service uses (checked against Auth0 SDK issue reports
// and community threads; see the package doc).
const (
	msgPageLimit   = "You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation"
	msgUserMissing = "The user does not exist."
	msgJobMissing  = "The job does not exist."
	msgRoleMissing = "The role does not exist."
)

func badQuery(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadRequest, "invalid_query_string", message)
}

func badBody(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadRequest, "invalid_body", message)
}

// marshal encodes like the API: map keys sorted, '&', '<' and '>' left as they are (URLs in
// pictures and locations stay readable byte for byte).
func marshal(v any) ([]byte, error) { return json.Append(nil, v, json.SortMapKeys) }
