package core

import (
	"context"
	"net/url"
)

// Mirror mode (ferry migrate --mirror) removes from a target the users that are gone from
// the source. The target is listed by the Source for the same endpoint (a Lister), so
// that one piece of code pages each provider; the Sink takes part by implementing
// Mirrored, and Remover (and Deactivator where the provider's clients deactivate rather
// than delete). load.Mirror decides who goes.

// TargetUser is a user a target holds, as much of it as mirror mode needs to match it
// against the source and to remove it.
type TargetUser struct {
	// ID is the target's own id of the user: what removal addresses.
	ID string `json:"id"`
	// UserName is the name the user is matched by, derived the way the provider's
	// decoder derives userName (Auth0: username | email | user_id; App ID: email; SCIM:
	// userName). Empty means the user cannot be matched, and is then never removed.
	UserName string `json:"userName,omitempty"`
	// Email is a second key to match by, where the target derives names from emails.
	Email string `json:"email,omitempty"`
	// Inactive is set when the target already holds the user deactivated (SCIM
	// active=false): deactivating it again is not a change.
	Inactive bool `json:"inactive,omitempty"`
}

// Lister is a Source that can enumerate its users for matching only (an Auth0 database
// connection, an App ID instance's profiles, a SCIM service provider's Users): the same
// paging as Users, reading no more of each user than a TargetUser holds.
type Lister interface {
	// ListUsers calls fn for every user, streaming page by page. It returns an error if
	// the listing could not be completed; a caller must then treat what it saw as partial.
	ListUsers(ctx context.Context, fn func(TargetUser) error) error
}

// Mirrored is a Sink whose users a Lister for the same endpoint lists. MirrorScope gives
// the endpoint query parameters that make that Source read exactly the users this Sink
// writes and may remove (Auth0: the connection, which the Sink defaults and a Source
// would otherwise read past), or an error when no Source can be scoped so.
type Mirrored interface {
	MirrorScope() (url.Values, error)
}

// Remover is a Sink that can delete users.
type Remover interface {
	// RemoveUsers deletes users and returns one error per user, in order: nil when the
	// user is gone (also when it was already gone). The error is for failures that end
	// the removal (auth, target unreachable).
	RemoveUsers(ctx context.Context, users []TargetUser) ([]error, error)
}

// Deactivator is a Sink that can deactivate users without deleting them (SCIM
// active=false, the way provisioning clients such as Entra ID and Okta de-provision).
type Deactivator interface {
	// DeactivateUsers returns one error per user, in order, like RemoveUsers.
	DeactivateUsers(ctx context.Context, users []TargetUser) ([]error, error)
}

// MembershipMirror is a RoleAssigner that can also take users out of roles they no longer
// hold in the source (--mirror). It is told which roles the source knows: a role it does
// not know (the source has no catalog, or never had that role) is not the source's to
// empty, and keeps its members.
type MembershipMirror interface {
	MirrorMemberships(roles []string)
}
