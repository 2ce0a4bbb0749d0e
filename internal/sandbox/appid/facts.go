package appid

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// FACTS.md is the table of App ID facts (paths, parameters, JSON fields, enums, limits) with
// the IBM source of each; the sandbox's tests and ferry's client tests both hold their side
// to it, so it is embedded rather than read from a path.
//
//go:embed FACTS.md
var factsMD string

// Fact is one row of FACTS.md: Value is the row's machine-readable value (a path with its
// methods, a comma-separated list, a number), Source where it was checked.
type Fact struct{ ID, What, Value, Source string }

var factRowRE = regexp.MustCompile("^\\| `([a-z][a-zA-Z0-9._]*)` \\| (.*?) \\| `([^`]*)` \\| (.+) \\|$")

// Facts parses FACTS.md's table.
func Facts() ([]Fact, error) {
	var out []Fact
	seen := map[string]bool{}
	for _, line := range strings.Split(factsMD, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		m := factRowRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("FACTS.md: row not in the form | `id` | what | `value` | source |: %s", line)
		}
		if strings.TrimSpace(m[4]) == "" {
			return nil, fmt.Errorf("FACTS.md: %s has no source", m[1])
		}
		if seen[m[1]] {
			return nil, fmt.Errorf("FACTS.md: %s twice", m[1])
		}
		seen[m[1]] = true
		out = append(out, Fact{m[1], m[2], m[3], m[4]})
	}
	return out, nil
}

// FactFields splits a field-list value ("a*, b, c"): every name, and the ones marked
// required with *.
func FactFields(v string) (all []string, required map[string]bool) {
	required = map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if name, ok := strings.CutSuffix(f, "*"); ok {
			required[name] = true
			f = name
		}
		all = append(all, f)
	}
	return all, required
}
