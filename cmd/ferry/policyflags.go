package main

import (
	"flag"

	"github.com/ferry-dev/ferry/run"
	"github.com/ferry-dev/ferry/transform"
)

// registerPolicy binds the metadata-rule flags of migrate and plan to j.
func registerPolicy(fs *flag.FlagSet, j *run.Job, noPictureOverride *bool) {
	j.Policy = transform.DefaultPolicyConfig()
	c := &j.Policy
	fs.StringVar(&c.DollarMode, "dollar", c.DollarMode, "a '$' in a metadata name: replace (with --dollar-replacement) or reject the user")
	fs.StringVar(&c.DollarReplacement, "dollar-replacement", c.DollarReplacement, "what replaces '$' in metadata names")
	fs.StringVar(&c.ReservedMode, "reserved", c.ReservedMode, "an Auth0-reserved app_metadata name: rename (under --reserved-prefix), drop (kept in the change log) or reject")
	fs.StringVar(&c.ReservedPrefix, "reserved-prefix", c.ReservedPrefix, "prefix for renamed reserved and shadowing names")
	fs.StringVar(&c.ShadowMode, "shadow", c.ShadowMode, "an app_metadata name that shadows a root profile field: warn or rename")
	fs.StringVar(&c.TypeMode, "types", c.TypeMode, "a value whose type differs from its field's: coerce-or-reject or coerce-or-stringify")
	fs.BoolVar(&c.TruncateSearch, "truncate-search", false, "cut metadata values over 256 characters (Auth0 cannot search them); the full value stays in the change log")
	fs.BoolVar(noPictureOverride, "no-picture-override", false, "keep the root picture even when user_metadata.picture is set")
	fs.StringVar(&c.DefaultPicture, "default-picture", "", "picture URL for users with none")
	fs.StringVar(&c.PII, "pii", c.PII, "metadata values that look like card numbers or national ids: warn, redact or reject")
	fs.StringVar(&j.Rules, "rules", "auto", "which metadata rules apply: auto (by target), all, auth0, appid, scim or file (PII only)")
	fs.BoolVar(&j.CreateRoles, "create-missing-roles", false, "create the roles and scopes the users need that the target lacks (otherwise: abort listing them)")
}
