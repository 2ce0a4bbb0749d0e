package transform

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText renders the plan for a person: outcomes, each rule with its count and example
// users, type conflicts per path with the type migrate keeps, oversize profiles, roles.
func (p *Plan) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	pf := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }

	target := p.Config.Target
	if target == "" {
		target = "any (every rule)"
	}
	pf("Plan: %d users read, target %s; nothing was written.\n", p.Users, target)
	if p.SourceServer != "" {
		pf("  source server: %s\n", p.SourceServer)
	}
	pf("  unchanged %d, changed %d, warned %d, rejected %d\n",
		p.Outcomes["unchanged"], p.Outcomes["changed"], p.Outcomes["warned"], p.Outcomes["rejected"])

	pf("\nRules (changes, users, examples):\n")
	if len(p.Rules) == 0 {
		pf("  none: every profile goes as it is\n")
	}
	for _, r := range p.Rules {
		pf("  %-18s %7d changes %7d users  %s%s\n", r.Rule, r.Changes, r.Users, kindsText(r.Kinds), examplesText(r.Examples))
	}

	pf("\nRejections (users, examples):\n")
	if len(p.Rejections) == 0 {
		pf("  none\n")
	}
	for _, r := range p.Rejections {
		pf("  %-18s %7d users  %s\n", r.Rule, r.Users, examplesText(r.Examples))
	}

	pf("\nType conflicts (per path: count of each type -> the type migrate keeps):\n")
	conflicts := 0
	for _, pt := range p.Paths {
		if !pt.Conflict {
			continue
		}
		conflicts++
		pf("  %s: %s -> %s", pt.Path, typesText(pt), pt.Chosen)
		if pt.Uncoercible > 0 {
			verb := "rejected"
			if p.Config.TypeMode == TypesCoerceOrStringify {
				verb = "kept as strings"
			}
			pf(" (%d values cannot convert without loss: %s)", pt.Uncoercible, verb)
		}
		pf("\n")
	}
	if conflicts == 0 {
		pf("  none: every metadata path has one type\n")
	}
	if p.PathsTruncated {
		pf("  (more metadata paths than the planner keeps: the rest are not listed)\n")
	}

	pf("\nOversize profiles (over 10 KB deprecated; over 1 MB rejected): %d\n", p.OversizeTotal)
	for _, o := range p.Oversize {
		mark := ""
		if o.Rejected {
			mark = "  rejected"
		}
		pf("  %-40s %10.1f KB%s\n", o.User, float64(o.Bytes)/1024, mark)
	}
	if int64(len(p.Oversize)) < p.OversizeTotal {
		pf("  ... and %d more\n", p.OversizeTotal-int64(len(p.Oversize)))
	}

	if len(p.Extensions) > 0 {
		pf("\nSchema extensions (users, attributes):\n")
		for _, x := range p.Extensions {
			pf("  %s: %d users; %s\n", x.URN, x.Users, strings.Join(x.Attributes, ", "))
			if x.Undeclared > 0 {
				pf("    the target does not declare it: migrate refuses the run (exit 3), or with --drop-unknown-extensions writes these %d users without it, its values in the change log\n", x.Undeclared)
			}
		}
	}

	pf("\nRoles referenced: %d\n", len(p.Roles))
	for _, r := range p.Roles {
		pf("  %-40s %7d users\n", r.Role, r.Users)
	}
	return bw.Flush()
}

func examplesText(ex []string) string {
	if len(ex) == 0 {
		return ""
	}
	return "e.g. " + strings.Join(ex, ", ")
}

func kindsText(k map[string]int64) string {
	if len(k) == 0 {
		return ""
	}
	names := make([]string, 0, len(k))
	for n := range k {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%d %s", k[n], n)
	}
	return "(" + strings.Join(parts, ", ") + ")  "
}

func typesText(pt PathTypes) string {
	var parts []string
	for _, k := range append(append([]mdKind(nil), typeOrder...), mdNull) {
		n := pt.Types[k.String()]
		if n == 0 {
			continue
		}
		s := fmt.Sprintf("%s %d", k, n)
		if k == mdString && (pt.NumericStrings > 0 || pt.BooleanStrings > 0) {
			var conv []string
			if pt.NumericStrings > 0 {
				conv = append(conv, fmt.Sprintf("%d numeric", pt.NumericStrings))
			}
			if pt.BooleanStrings > 0 {
				conv = append(conv, fmt.Sprintf("%d boolean", pt.BooleanStrings))
			}
			s += " (" + strings.Join(conv, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
