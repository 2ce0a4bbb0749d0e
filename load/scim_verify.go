package load

import (
	"context"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
)

var _ core.Verifier = (*SCIM)(nil)

// Verify implements core.Verifier: the users are looked up by userName (the attribute a
// 409 uniqueness is about, twenty names a request as the upsert path does) and the one
// found is compared with what ferry would send, by the comparison --upsert uses to leave
// users unchanged. A user found under none of the names stays a conflict: the provider
// refused it on another attribute (externalId, an e-mail), which ferry cannot match.
func (s *SCIM) Verify(ctx context.Context, items []core.Item) ([]core.Verdict, error) {
	out := make([]core.Verdict, len(items))
	ops := make([]*scimOp, 0, len(items))
	for i := range items {
		if op, err := s.prepare(i, &items[i]); err == nil {
			ops = append(ops, op)
		}
	}
	found, err := s.lookup(ctx, ops)
	if err != nil {
		if fatal(ctx, err) {
			return nil, err
		}
		return out, nil // not read back: the refusals stand
	}
	for _, op := range ops {
		cur := found[strings.ToLower(op.userName)]
		if cur == nil {
			continue
		}
		want, err := op.wanted()
		if err != nil {
			continue
		}
		id, _ := cur["id"].(string)
		v := core.Verdict{Found: true, TargetID: id, Diff: s.differs(want, cur)}
		v.Same = v.Diff == ""
		out[op.idx] = v
	}
	if err := s.finishMemberships(ctx, items, out); err != nil {
		return nil, err
	}
	return out, nil
}
