package main

import (
	"flag"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/transform"
)

// policyFlags are the metadata-rule flags of migrate and plan.
type policyFlags struct {
	cfg               transform.PolicyConfig
	noPictureOverride bool
	plan              string // migrate --plan: a plan file fixing each metadata path's type
	createRoles       bool
	rules             string // auto, all, auth0, appid, scim, file
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	p.cfg = transform.DefaultPolicyConfig()
	c := &p.cfg
	fs.StringVar(&c.DollarMode, "dollar", c.DollarMode, "a '$' in a metadata name: replace (with --dollar-replacement) or reject the user")
	fs.StringVar(&c.DollarReplacement, "dollar-replacement", c.DollarReplacement, "what replaces '$' in metadata names")
	fs.StringVar(&c.ReservedMode, "reserved", c.ReservedMode, "an Auth0-reserved app_metadata name: rename (under --reserved-prefix), drop (kept in the change log) or reject")
	fs.StringVar(&c.ReservedPrefix, "reserved-prefix", c.ReservedPrefix, "prefix for renamed reserved and shadowing names")
	fs.StringVar(&c.ShadowMode, "shadow", c.ShadowMode, "an app_metadata name that shadows a root profile field: warn or rename")
	fs.StringVar(&c.TypeMode, "types", c.TypeMode, "a value whose type differs from its field's: coerce-or-reject or coerce-or-stringify")
	fs.BoolVar(&c.TruncateSearch, "truncate-search", false, "cut metadata values over 256 characters (Auth0 cannot search them); the full value stays in the change log")
	fs.BoolVar(&p.noPictureOverride, "no-picture-override", false, "keep the root picture even when user_metadata.picture is set")
	fs.StringVar(&c.DefaultPicture, "default-picture", "", "picture URL for users with none")
	fs.StringVar(&c.PII, "pii", c.PII, "metadata values that look like card numbers or national ids: warn, redact or reject")
	fs.StringVar(&p.rules, "rules", "auto", "which metadata rules apply: auto (by target), all, auth0, appid, scim or file (PII only)")
	fs.BoolVar(&p.createRoles, "create-missing-roles", false, "create the roles and scopes the users need that the target lacks (otherwise: abort listing them)")
}

// config returns the policy configuration for a target.
func (p *policyFlags) config(to, toFormat string) transform.PolicyConfig {
	c := p.cfg
	c.PictureOverride = !p.noPictureOverride
	switch p.rules {
	case "auto", "":
		c.Target = policyTarget(to, toFormat)
	case "all":
		c.Target = "" // the strictest set: every rule
	default:
		c.Target = p.rules // checked by PolicyConfig.Validate
	}
	return c
}

// policyTarget picks the rule set from where the users go: a file keeps profiles as they
// are unless it is written in a provider's import format, which gets that provider's rules.
func policyTarget(to, toFormat string) string {
	switch {
	case strings.HasPrefix(toFormat, core.FormatAuth0):
		return transform.TargetAuth0
	case strings.HasPrefix(toFormat, core.FormatAppID):
		return transform.TargetAppID
	}
	ep, err := endpoint.Parse(to)
	if err != nil {
		return ""
	}
	switch {
	case ep.Scheme == "auth0":
		return transform.TargetAuth0
	case ep.Scheme == "appid":
		return transform.TargetAppID
	case strings.HasPrefix(ep.Scheme, "scim"):
		return transform.TargetSCIM
	}
	return transform.TargetFile
}
