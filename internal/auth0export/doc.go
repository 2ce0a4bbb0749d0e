// Package auth0export is the client side of Auth0's "Bulk User Exports" job that the
// Auth0 source (extract) and mirror mode's lister on an Auth0 target (load) share:
// POST /api/v2/jobs/users-exports (each caller builds its own body), poll
// GET /api/v2/jobs/{id} until "completed", check the job's "location" (a signed URL to a
// gzipped NDJSON file, valid 60 s, re-requestable from the job for 24 h), download it
// with a cap on its inflated size.
package auth0export
