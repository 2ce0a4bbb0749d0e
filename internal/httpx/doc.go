// Package httpx is the one HTTP layer every ferry connector talks through.
//
// A Client serves one endpoint (an Auth0 tenant, an App ID instance, a SCIM base URL).
// It attaches a bearer token from a TokenSource (refreshed before expiry, single-flight),
// paces requests through a Limiter shared by every client of the same tenant (so extract
// and load of one tenant stay under one budget), retries 429, 5xx and network failures
// with exponential backoff and full jitter while honouring Retry-After and
// x-ratelimit-reset, caps response sizes, refuses plain http:// except on loopback, and
// scrubs every secret (configured values and the tokens in use) from every error.
//
// Connectors call Do, DoJSON, GetJSON, PostJSON or Stream; errors they branch on are
// matched with errors.Is against ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict,
// ErrPreconditionFailed, ErrTooLarge, ErrRateLimited, ErrInsecure and ErrIdleTimeout,
// and *StatusError carries the status and a short scrubbed body.
//
// Request bodies are never logged nor copied into errors: they carry passwords hashes,
// API keys and client secrets.
package httpx
