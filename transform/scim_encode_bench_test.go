package transform

import (
	"testing"

	ferrygen "github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// benchSCIMUsers are generated Auth0 users (5% awkward, as `ferry gen --nasty 0.05` makes
// them) decoded the way a migration decodes them, so that the encoders see the mix of
// metadata, identities and extra a real export carries.
func benchSCIMUsers(b *testing.B) []*schemas.User {
	b.Helper()
	var us []*schemas.User
	for i := 0; len(us) < 256; i++ {
		u, err := decodeAuth0(ferrygen.Auth0(1, i, ferrygen.Options{Nasty: 0.05}))
		if err == nil {
			us = append(us, u)
		}
	}
	return us
}

func benchSCIMEncoder(b *testing.B, enc func([]byte, *schemas.User) ([]byte, error)) {
	us := benchSCIMUsers(b)
	var out []byte
	total := 0
	for _, u := range us {
		out, _ = enc(out[:0], u)
		total += len(out)
	}
	b.SetBytes(int64(total / len(us)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var err error
		if out, err = enc(out[:0], us[i%len(us)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSCIMEncode compares the hand-written encoder with the segmentio call it
// replaced, per user.
func BenchmarkSCIMEncode(b *testing.B) {
	b.Run("handwritten", func(b *testing.B) { benchSCIMEncoder(b, appendSCIMUser) })
	b.Run("segmentio", func(b *testing.B) {
		benchSCIMEncoder(b, func(dst []byte, u *schemas.User) ([]byte, error) {
			return json.Append(dst, u, json.EscapeHTML|json.SortMapKeys|json.TrustRawMessage)
		})
	})
}
