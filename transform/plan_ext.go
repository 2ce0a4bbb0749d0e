package transform

import (
	"sort"
	"strings"

	"github.com/ferry-dev/ferry/schemas"
)

// ExtensionStat is one custom schema extension the users carry.
type ExtensionStat struct {
	URN   string `json:"urn"`
	Users int64  `json:"users"`
	// Attributes are the extension's top-level attribute names seen, sorted (at most
	// maxPlanExtAttrs).
	Attributes []string `json:"attributes"`
	// Undeclared counts the users whose data under this URN the target does not take (it
	// declares no such extension): dropped with --drop-unknown-extensions, values logged.
	Undeclared int64 `json:"undeclared,omitempty"`
}

// maxPlanExtAttrs bounds the attribute names kept per extension: a hostile source with
// data as keys must not grow the plan without bound.
const maxPlanExtAttrs = 200

type extAcc struct {
	urn               string // as first seen
	users, undeclared int64
	attrs             map[string]bool
}

// observeExtensions counts u's custom extensions; pl.mu is held.
func (pl *Planner) observeExtensions(u *schemas.User, changes []Change) {
	for _, e := range u.Extensions {
		key := strings.ToLower(e.URN)
		a := pl.exts[key]
		if a == nil {
			a = &extAcc{urn: e.URN, attrs: map[string]bool{}}
			pl.exts[key] = a
		}
		a.users++
		for m := newMembers(e.Data, e.URN); m.next(); {
			if len(a.attrs) < maxPlanExtAttrs {
				a.attrs[string(m.Key)] = true
			}
		}
		for _, ch := range changes {
			if ch.Rule == RuleTargetFormat && strings.EqualFold(ch.Path, e.URN) {
				a.undeclared++
				break
			}
		}
	}
}

func (pl *Planner) extensionStats() []ExtensionStat {
	if len(pl.exts) == 0 {
		return nil
	}
	out := make([]ExtensionStat, 0, len(pl.exts))
	for _, a := range pl.exts {
		x := ExtensionStat{URN: a.urn, Users: a.users, Undeclared: a.undeclared, Attributes: make([]string, 0, len(a.attrs))}
		for k := range a.attrs {
			x.Attributes = append(x.Attributes, k)
		}
		sort.Strings(x.Attributes)
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}
