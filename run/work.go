package run

import (
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

// policyConfig is the Job's policy configuration with the rule set for a target writing
// toFormat.
func (job Job) policyConfig(toFormat string) transform.PolicyConfig {
	c := job.Policy
	switch job.Rules {
	case "auto", "":
		c.Target = policyTarget(job.To, toFormat)
	case "all":
		c.Target = "" // the strictest set: every rule
	default:
		c.Target = job.Rules // checked by PolicyConfig.Validate
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

// lossesFor lists what dst cannot carry of a user: what its format has no place for, and
// what the sink itself leaves out (core.Lossy). Roles are not lost on a sink that assigns
// them itself.
func lossesFor(dst core.Sink) func(*schemas.User) []string {
	format := transform.LossesFor(dst.Format())
	lossy, _ := dst.(core.Lossy)
	_, assigns := dst.(core.RoleAssigner)
	if format == nil && lossy == nil {
		return nil
	}
	return func(u *schemas.User) []string {
		var out []string
		if format != nil {
			for _, p := range format(u) {
				if p != "roles" || !assigns {
					out = append(out, p)
				}
			}
		}
		if lossy != nil {
			out = append(out, lossy.Losses(u)...)
		}
		return out
	}
}

// ValidateUser is the schema check every user passes before it is encoded.
func ValidateUser(u *schemas.User) error {
	return schemas.Violations(schemas.Validate(u)).Err()
}
