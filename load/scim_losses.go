package load

import (
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

var _ core.Lossy = (*SCIM)(nil)

// Losses names the extensions of u that the provider does not declare: Write leaves them
// out rather than have a strict server refuse the whole user.
func (s *SCIM) Losses(u *schemas.User) []string {
	out := s.undeclaredOf(u)
	for _, urn := range s.unsupported {
		if (urn == schemas.EnterpriseUserURN && u.Enterprise != nil) || (urn == schemas.FerryUserURN && u.Ferry != nil) {
			out = append(out, urn)
		}
	}
	return out
}
