// Package core holds the few interfaces every part of ferry agrees on: a Source yields raw
// records, a Sink writes encoded users and reports one Result per user. Optional abilities
// are separate interfaces found by type assertion (the rclone way), so a backend implements
// only what its provider can do.
package core

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// Record formats, as named by --from-format / --to-format.
const (
	FormatSCIM        = "scim"
	FormatAuth0       = "auth0"        // Management API / export job user
	FormatAuth0Import = "auth0-import" // bulk-import array item
	FormatAppID       = "appid"        // users/export profile item
	FormatAppIDCD     = "appid-cd"     // Cloud Directory export item
	FormatOIDC        = "oidc"         // userinfo claims
)

// Record is one raw user record as a source read it.
type Record struct {
	// Data is the record's bytes as read: one JSON value.
	Data []byte
	// Ref says where the record came from, for rejects and errors: "line 12", "element 7",
	// or the source's own user id.
	Ref string
	// Cursor is the source position just after this record. Once this record and all
	// before it are committed, a resumed run may restart the source from Cursor.
	Cursor string
	// Err is set when the source reached a record but could not read it as JSON (malformed,
	// invalid UTF-8, too large). The pipeline rejects it with this reason and goes on.
	Err error
}

// Source reads users from a tenant or a file.
type Source interface {
	// Name identifies the source in logs and manifests, without credentials.
	Name() string
	// Format is the record format of the Data it yields.
	Format() string
	// Users calls emit for every record, in order, until the source is exhausted, ctx is
	// done, or emit returns an error (which Users returns). A fatal read error (network,
	// truncated gzip) is returned; per-record problems travel in Record.Err.
	Users(ctx context.Context, emit func(Record) error) error
}

// Counter is a Source that knows how many records it holds (for progress and ETA).
type Counter interface {
	Total(ctx context.Context) (n int64, ok bool)
}

// Resumer is a Source that can restart after a Record.Cursor it yielded earlier.
type Resumer interface {
	ResumeAfter(cursor string) error
}

// Incremental is a Source that can restrict itself to users changed since t.
type Incremental interface {
	Since(t time.Time) error
}

// Item is one user on its way to a sink.
type Item struct {
	Seq  int64         // position in read order, 0-based
	Ref  string        // the record's Ref
	Raw  []byte        // the original record, for rejects
	User *schemas.User // the canonical user after every policy
	Data []byte        // User encoded in the sink's Format
	// InDoubt says an earlier run of this migration sent this user to the target and died
	// before committing it: the target may hold it, written by this migration. Set for
	// Verifier.Verify only.
	InDoubt bool
}

// Outcome is what became of one user.
type Outcome int

const (
	Created   Outcome = iota + 1 // written as a new user
	Updated                      // written over an existing user (upsert)
	Unchanged                    // skipped: the target already holds the same user
	Rejected                     // not written; Reason says why
)

func (o Outcome) String() string {
	switch o {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Result is a sink's answer for one Item.
type Result struct {
	Outcome Outcome
	// Reason explains a rejection: the provider's code and message, with the attribute path
	// when the provider gives one. Never contains secrets.
	Reason string
	// TargetID is the user's id in the target, when the sink learns it (for role assignment).
	TargetID string
	// Exists marks a rejection because the target already holds a user with this user's
	// key (SCIM 409 uniqueness, Auth0 DUPLICATED_USER, App ID "already exists"). That user
	// may be this one, written by an earlier run of the same migration that crashed: a
	// Verifier tells.
	Exists bool
	// Lost names the top-level attributes (or extension URNs) of a written user that the
	// target accepted and did not keep, as its answer showed: the pipeline puts their
	// values in the change log.
	Lost []string
}

// Verifier is a Sink that can read a user back from the target and compare it with what
// ferry would write. The pipeline asks it about the users the sink refused as existing
// (Result.Exists): one the target holds as ferry would write it is not a conflict (a
// re-run, or a resume that replays users written before the crash); one with other data
// stays rejected, naming the target's user. Verify never writes.
type Verifier interface {
	Verify(ctx context.Context, items []Item) ([]Verdict, error)
}

// Verdict is what a Verifier found of one user, in the order of the items asked about.
type Verdict struct {
	Found    bool   // the target holds a user with this user's key
	Same     bool   // and it holds what ferry would write
	TargetID string // the target's id of that user
	// Diff names what differs when Found and not Same: attribute names only, never values
	// (they may be secrets).
	Diff string
}

// Sink writes users to a tenant or a file.
type Sink interface {
	Name() string
	// Format is the record format Item.Data must be encoded in.
	Format() string
	// Write writes a batch and returns exactly one Result per Item, in order. Per-user
	// failures are Results; the error is for failures that end the run (auth, target gone).
	// Write may be called concurrently unless the sink implements Sequential.
	Write(ctx context.Context, batch []Item) ([]Result, error)
	// Close commits what was written (flush, manifest, rename). It is called once, after
	// every Write returned, and only when the run was not aborted.
	Close(ctx context.Context) error
}

// Aborter is a Sink that can discard a partial output when the run fails.
type Aborter interface {
	Abort() error
}

// Sequential is a Sink whose Write must not run concurrently (a single file).
type Sequential interface {
	Sequential()
}

// BatchLimits bounds the batches a sink receives: by count and by encoded bytes.
type BatchLimits struct {
	MaxCount int
	MaxBytes int
}

// Batched is a Sink with batch limits of its own (Auth0: 500 KB files; SCIM: maxOperations).
type Batched interface {
	BatchLimits() BatchLimits
}

// Catalog is the roles and scopes of a tenant, keyed by what is stable across tenants:
// role names, and (resource, scope) pairs where resource is an Auth0 resource server
// identifier or an App ID application name.
type Catalog struct {
	Roles []Role `json:"roles"`
	// Scopes lists every scope a tenant defines, also those no role grants.
	Scopes []Permission `json:"scopes,omitempty"`
}

// Role is one role with the permissions it grants.
type Role struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions,omitempty"`
}

// Permission is a scope on a resource.
type Permission struct {
	Resource string `json:"resource"`
	Scope    string `json:"scope"`
}

// RoleReader reads a tenant's role catalog (a Source or a Sink may implement it).
type RoleReader interface {
	Roles(ctx context.Context) (*Catalog, error)
}

// RoleScanner is a Source that can list the role names its users reference by a first
// pass over its records, before the run reads them again: a file, which can be read twice.
// It returns ErrOnePass when it cannot (stdin).
type RoleScanner interface {
	ReferencedRoles(ctx context.Context, decode func([]byte) ([]string, error)) ([]string, error)
}

// CatalogKeeper is a Sink that stores the source's catalog beside the users, so a restore
// can recreate roles, scopes and memberships (a backup file). It is given the catalog
// before the first Write; a keeper that cannot store it (stdout) says so in the error.
type CatalogKeeper interface {
	KeepCatalog(*Catalog) error
}

// RoleWriter creates missing scopes and roles in a target, scopes first.
type RoleWriter interface {
	CreateRoles(ctx context.Context, missing *Catalog) error
}

// CatalogMapper is a RoleReader whose provider spells scopes its own way (App ID allows
// only lowercase alphanumerics, '.' and '_'): it maps a source catalog into that spelling
// before the diff, so that what is created is what is then found.
type CatalogMapper interface {
	MapCatalog(*Catalog) *Catalog
}

// Lossy is a Sink that leaves out parts of a user its target cannot hold (a SCIM server
// that declares no enterprise extension). It names them, as attribute paths, so the change
// log keeps their values.
type Lossy interface {
	Losses(u *schemas.User) []string
}

// ExtensionTarget is a Sink whose target declares the schema extensions it keeps (a SCIM
// service provider's /Schemas and /ResourceTypes). Undeclared returns those of urns it does
// not declare, or nil when it declares them all or cannot tell.
type ExtensionTarget interface {
	Undeclared(urns []string) []string
}

// ExtensionSource is a Source that knows, without reading its users, which schema
// extensions they may carry (a SCIM service provider declares them).
type ExtensionSource interface {
	Extensions(ctx context.Context) []string
}

// RoleAssigner is a Sink that gives users their roles itself (after a bulk import that
// cannot), so a format's lack of a roles field loses nothing.
type RoleAssigner interface {
	AssignsRoles()
}

// Keyed is a Sink whose target identifies users by one attribute, compared
// case-insensitively: two users of a run with the same key would be one user there (the
// second refused, or with --upsert written over the first). UserKey returns the attribute's
// name (for messages) and u's key; an empty key is not checked. The pipeline rejects the
// second user of a run with a key already seen, naming the first.
//
// A file sink is not Keyed: a backup holds every user of its source, and the source's own
// rules decided what is unique there (Auth0 allows one e-mail in several connections).
type Keyed interface {
	UserKey(u *schemas.User) (attr, key string)
}

// Options are the settings a Source or Sink constructor may use.
type Options struct {
	Format      string // --from-format / --to-format; empty: the endpoint's default
	Upsert      bool
	Concurrency int
	// Source names where the users come from (no credentials), for backup manifests.
	Source string
	// Stdout and Stdin stand for "-"; nil means the process's own.
	Stdout io.Writer
	Stdin  io.Reader
	// EncryptTo lists age recipients (public keys) a backup file is encrypted to.
	EncryptTo []string
	// Getenv reads credentials; tests substitute it. Secrets never come from flags or URLs.
	Getenv func(string) string
	// DropUnknownExtensions lets a target that does not declare a schema extension take
	// the users carrying it without that data (recorded in the change log); without it
	// such a target refuses the run before writing (ExtensionTarget).
	DropUnknownExtensions bool
}

// Sentinel errors callers branch on.
var (
	// ErrUsage marks a configuration error (exit 2).
	ErrUsage = errors.New("usage")
	// ErrAborted marks a run stopped before completion (exit 3).
	ErrAborted = errors.New("aborted")
	// ErrNoCatalog is what a RoleReader answers when it has no catalog to give after all (a
	// backup written before backups carried one): the caller falls back to the roles the
	// users reference.
	ErrNoCatalog = errors.New("no roles catalog")
	// ErrOnePass is what a RoleScanner answers when its records can be read only once.
	ErrOnePass = errors.New("the source can be read only once")
	// ErrHostile marks a server answer that would make a naive reader loop forever or lose
	// users: a cursor seen twice, pages that bring nothing new, a location on a foreign host.
	ErrHostile = errors.New("inconsistent server answer")
)

// Change is one rewrite made to a user on its way (a policy's, or a value the target's
// format cannot hold), for the change log (--changes, NDJSON). Before and After hold the
// values as JSON; a secret is replaced by a marker before it gets here.
type Change struct {
	User   string          `json:"user"`
	Path   string          `json:"path"`
	Rule   string          `json:"rule"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Note says what a reader of the log should know (a warning with no rewrite, say).
	Note string `json:"note,omitempty"`
}
