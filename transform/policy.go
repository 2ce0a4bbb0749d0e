package transform

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// Rule names, as they appear in the change log ("rule") and in plans.
const (
	RulePII             = "pii"
	RuleMetadataJSON    = "metadata-json"
	RuleFieldNames      = "field-names"
	RuleDuplicateKey    = "duplicate-key"
	RuleReservedKeys    = "reserved-keys"
	RuleRootShadow      = "root-shadow"
	RuleDynamicNames    = "dynamic-names"
	RuleTypes           = "type-consistency"
	RulePictureFlatten  = "picture-flatten"
	RulePictureOverride = "picture-override"
	RuleDefaultPicture  = "default-picture"
	RuleSearchSize      = "search-size"
	RuleProfileSize     = "profile-size"
	RuleSignupLimits    = "signup-limits"
)

// Policy flag values.
const (
	DollarReplace = "replace"
	DollarReject  = "reject"

	ReservedRename = "rename"
	ReservedDrop   = "drop"
	ReservedReject = "reject"

	ShadowWarn   = "warn"
	ShadowRename = "rename"

	TypesCoerceOrReject    = "coerce-or-reject"
	TypesCoerceOrStringify = "coerce-or-stringify"

	PIIWarn   = "warn"
	PIIRedact = "redact"
	PIIReject = "reject"

	TargetAuth0 = "auth0"
	TargetAppID = "appid"
	TargetSCIM  = "scim"
	TargetFile  = "file"
)

// PolicyConfig is every metadata-rule flag of migrate and plan.
type PolicyConfig struct {
	// Target decides which rules apply: auth0 (all of them), appid and scim (PII, dynamic
	// names, types, pictures), file (PII only, plus --default-picture if given: a backup
	// keeps profiles as they are). Empty applies every rule, as for the strictest target.
	Target string `json:"target,omitempty"`
	// DollarMode: a '$' in a member name is replaced by DollarReplacement, or the user rejected.
	DollarMode        string `json:"dollarMode"`
	DollarReplacement string `json:"dollarReplacement"`
	// ReservedMode: an Auth0-reserved app_metadata name is renamed under ReservedPrefix,
	// dropped (the value kept only in the change log), or the user rejected.
	ReservedMode   string `json:"reservedMode"`
	ReservedPrefix string `json:"reservedPrefix"`
	// ShadowMode: an app_metadata name equal to a root profile attribute is reported, or
	// renamed under ReservedPrefix.
	ShadowMode string `json:"shadowMode"`
	// TypeMode: a value whose type differs from its path's type is coerced when nothing is
	// lost ("23" -> 23); otherwise the user is rejected, or the value stored as a string.
	TypeMode string `json:"typeMode"`
	// TruncateSearch cuts metadata strings to 256 characters (the full value stays in the
	// change log); without it they are only reported.
	TruncateSearch bool `json:"truncateSearch"`
	// PictureOverride makes user_metadata.picture the root picture (Auth0's post-login
	// action, applied at migration time).
	PictureOverride bool `json:"pictureOverride"`
	// DefaultPicture is set as the picture of users with none.
	DefaultPicture string `json:"defaultPicture,omitempty"`
	// PII: values that look like card numbers or national ids are reported, redacted, or
	// the user rejected.
	PII string `json:"pii"`
	// SignupLimits checks user_metadata against the Authentication API signup limits (10
	// string fields of at most 500 characters); only a sink that creates users through
	// signup needs it.
	SignupLimits bool `json:"signupLimits,omitempty"`
	// MaxTypePaths bounds how many metadata paths the type rule remembers (memory bound
	// against sources whose keys are data); 0 means 50,000.
	MaxTypePaths int `json:"maxTypePaths,omitempty"`
}

// DefaultPolicyConfig returns the defaults of the command line.
func DefaultPolicyConfig() PolicyConfig {
	return PolicyConfig{
		DollarMode:        DollarReplace,
		DollarReplacement: "_",
		ReservedMode:      ReservedRename,
		ReservedPrefix:    "ferry_",
		ShadowMode:        ShadowWarn,
		TypeMode:          TypesCoerceOrReject,
		PictureOverride:   true,
		PII:               PIIWarn,
	}
}

func oneOf(flag, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("policy: %s %q: want one of %s: %w", flag, v, strings.Join(allowed, "|"), core.ErrUsage)
}

// Validate checks every flag value.
func (cfg PolicyConfig) Validate() error {
	errs := []error{
		oneOf("target", cfg.Target, "", TargetAuth0, TargetAppID, TargetSCIM, TargetFile),
		oneOf("dollar mode", cfg.DollarMode, DollarReplace, DollarReject),
		oneOf("reserved mode", cfg.ReservedMode, ReservedRename, ReservedDrop, ReservedReject),
		oneOf("shadow mode", cfg.ShadowMode, ShadowWarn, ShadowRename),
		oneOf("type mode", cfg.TypeMode, TypesCoerceOrReject, TypesCoerceOrStringify),
		oneOf("pii", cfg.PII, PIIWarn, PIIRedact, PIIReject),
	}
	if cfg.DollarMode == DollarReplace && (cfg.DollarReplacement == "" || strings.ContainsAny(cfg.DollarReplacement, ".$")) {
		errs = append(errs, fmt.Errorf("policy: dollar replacement %q must be non-empty without '.' or '$': %w", cfg.DollarReplacement, core.ErrUsage))
	}
	if cfg.ReservedPrefix == "" || strings.ContainsAny(cfg.ReservedPrefix, ".$") {
		errs = append(errs, fmt.Errorf("policy: reserved prefix %q must be non-empty without '.' or '$': %w", cfg.ReservedPrefix, core.ErrUsage))
	} else if auth0ReservedAppMetadata[cfg.ReservedPrefix] || auth0RootFields[cfg.ReservedPrefix] {
		errs = append(errs, fmt.Errorf("policy: reserved prefix %q is itself a reserved name: %w", cfg.ReservedPrefix, core.ErrUsage))
	}
	if cfg.DefaultPicture != "" {
		if !isHTTPURL(cfg.DefaultPicture) {
			errs = append(errs, fmt.Errorf("policy: default picture %q is not an http(s) URL: %w", cfg.DefaultPicture, core.ErrUsage))
		}
	}
	return errors.Join(errs...)
}

func (cfg PolicyConfig) auth0Rules() bool { return cfg.Target == "" || cfg.Target == TargetAuth0 }
func (cfg PolicyConfig) rewrites() bool   { return cfg.Target != TargetFile }

// NewPolicies returns the policy chain for cfg, in its fixed order: PII first (so that no
// later rule copies a secret into the change log), then names (data-like names, dots and
// dollars, reserved, root shadows), types, pictures, and sizes last (they measure the result).
// plan, when given, fixes each metadata path's type (see Plan); without one, the first type
// seen wins.
func NewPolicies(cfg PolicyConfig, plan *Plan) ([]Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ps := []Policy{&piiPolicy{mode: cfg.PII}}
	if cfg.rewrites() {
		// Before field-names: "alice@example.com" is recognisably data only before its dots
		// are expanded.
		ps = append(ps, &dynamicNamePolicy{})
	}
	if cfg.auth0Rules() {
		ps = append(ps,
			&fieldNamePolicy{dollarMode: cfg.DollarMode, dollarRepl: cfg.DollarReplacement},
			&reservedPolicy{mode: cfg.ReservedMode, prefix: cfg.ReservedPrefix},
			&shadowPolicy{mode: cfg.ShadowMode, prefix: cfg.ReservedPrefix},
		)
	}
	if cfg.rewrites() {
		tp, err := newTypePolicy(cfg, plan)
		if err != nil {
			return nil, err
		}
		ps = append(ps, tp)
	}
	if cfg.rewrites() || cfg.DefaultPicture != "" {
		ps = append(ps, &picturePolicy{
			flatten:    cfg.rewrites(),
			override:   cfg.rewrites() && cfg.PictureOverride,
			defaultURL: cfg.DefaultPicture,
		})
	}
	if cfg.Target == TargetAppID {
		ps = append(ps, identitiesPolicy{})
	}
	if cfg.auth0Rules() {
		ps = append(ps, &sizePolicy{truncate: cfg.TruncateSearch})
		if cfg.SignupLimits {
			ps = append(ps, &signupPolicy{})
		}
	}
	return ps, nil
}

// ApplyAll runs the chain on u, recording into c, and stops at the first *Rejection (which
// it returns as is). c.User defaults to u.Ref(). Safe to call from many goroutines on
// different users with the same chain.
func ApplyAll(ps []Policy, u *schemas.User, c *Changes) error {
	if c.User == "" {
		c.User = u.Ref()
	}
	us := userScanPool.Get().(*userScan)
	defer func() { *us = userScan{}; userScanPool.Put(us) }()
	for _, p := range ps {
		var err error
		if sp, ok := p.(scannedPolicy); ok {
			err = sp.apply(u, c, us)
		} else {
			err = p.Apply(u, c)
		}
		if err != nil {
			var rej *Rejection
			if errors.As(err, &rej) {
				return err
			}
			return fmt.Errorf("policy %s: user %s: %w", p.Name(), c.User, err)
		}
	}
	return nil
}

// ChangeKind classifies a change log entry: "warning" (nothing rewritten: no before, no
// after), "dropped" (a before and no after: the value is only in the log now) or "rewritten".
func ChangeKind(ch Change) string {
	switch {
	case ch.After != nil:
		return "rewritten"
	case ch.Before != nil:
		return "dropped"
	}
	return "warning"
}

// scannedPolicy is a policy that shares the chain's per-user scan of the raw metadata, so a
// clean user's bytes are scanned once, not once per rule.
type scannedPolicy interface {
	apply(u *schemas.User, c *Changes, us *userScan) error
}

// The metadata blobs the rules look at, by their provider names (as in the change log).
const (
	blobApp = iota
	blobUser
	blobAttrs
	nBlobs
)

var blobNames = [nBlobs]string{"app_metadata", "user_metadata", "attributes"}

func blobRaw(u *schemas.User, i int) json.RawMessage {
	if u.Ferry == nil {
		return nil
	}
	switch i {
	case blobApp:
		return u.Ferry.AppMetadata
	case blobUser:
		return u.Ferry.UserMetadata
	}
	return u.Ferry.Attributes
}

func setBlobRaw(u *schemas.User, i int, raw json.RawMessage) {
	switch i {
	case blobApp:
		u.Ferry.AppMetadata = raw
	case blobUser:
		u.Ferry.UserMetadata = raw
	default:
		u.Ferry.Attributes = raw
	}
}

// userScan caches the scan flags of each blob for as long as its bytes are the same slice
// (a rule that rewrites a blob installs a new slice, which invalidates the entry).
type userScan struct {
	raw   [nBlobs][]byte
	flags [nBlobs]scanFlags
	shape [nBlobs]uint64
	ok    [nBlobs]bool
}

var userScanPool = sync.Pool{New: func() any { return new(userScan) }}

func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// blob returns blob i's raw bytes and flags; empty or null metadata reports ok=false.
func (us *userScan) blob(u *schemas.User, i int) ([]byte, scanFlags, bool) {
	raw := blobRaw(u, i)
	if isEmptyJSON(raw) {
		return nil, 0, false
	}
	if us.ok[i] && sameSlice(us.raw[i], raw) {
		return raw, us.flags[i], true
	}
	f, shape := mdScanFlags(raw)
	us.raw[i], us.flags[i], us.shape[i], us.ok[i] = raw, f, shape^uint64(i), true
	return raw, f, true
}

func isEmptyJSON(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return len(raw) >= 4 && string(trimWS(raw)) == "null"
	}
	return true
}

func trimWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == '\n' || b[j-1] == '\r') {
		j--
	}
	return b[i:j]
}

// loadBlob decodes blob i for a rule about to look inside. A syntax error becomes a
// rejection naming the field. Members overwritten by a duplicate name are logged here, and
// dirty says the blob must be written back even if the rule changes nothing (so the next
// rule does not log them again).
func loadBlob(raw []byte, i int, c *Changes, wantObject bool) (root *mdValue, dirty bool, err error) {
	v, dups, err := mdParseDups(raw)
	if err != nil {
		return nil, false, &Rejection{Rule: RuleMetadataJSON, Path: blobNames[i], Msg: err.Error()}
	}
	if wantObject && v.kind != mdObject {
		return nil, false, &Rejection{Rule: RuleMetadataJSON, Path: blobNames[i], Msg: "must be a JSON object, is " + v.kind.String()}
	}
	if dups {
		mdWalkTree(v, blobNames[i], hintNone, func(n *mdValue, path string, _ keyHint) bool {
			recordDups(n, path, c)
			return true
		})
	}
	return v, dups, nil
}

func invalidBlob(raw []byte, i int) error {
	if _, err := mdParse(raw); err != nil {
		return &Rejection{Rule: RuleMetadataJSON, Path: blobNames[i], Msg: err.Error()}
	}
	// The scanner and the parser disagree: a bug, but refuse rather than pass it on.
	return &Rejection{Rule: RuleMetadataJSON, Path: blobNames[i], Msg: "invalid JSON"}
}

// addMD records a change whose values are metadata values, masking anything PII-shaped.
// hint is the key hint of the value's own member name.
func addMD(c *Changes, rule, path string, before, after *mdValue, hint keyHint, note string) {
	var b, a any
	if before != nil {
		b = piiMasked(before, hint).raw()
	}
	if after != nil {
		a = piiMasked(after, hint).raw()
	}
	c.Add(rule, path, b, a, note)
}

// addRename records a member moved to a new path: the value itself is unchanged, so the
// log holds the two paths, never the value.
func addRename(c *Changes, rule, from, to, note string) {
	c.Add(rule, from, from, to, note)
}

func lastKeyHint(key string) keyHint { return keyHintOf([]byte(key)) }
