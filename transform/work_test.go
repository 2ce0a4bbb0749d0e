package transform

import (
	"bytes"
	"os"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonstream"
)

// BenchmarkDecodeStage compares the read+decode stage on realistic auth0 records (the sample
// under internal/jsonstream/testdata, or $CHECK_INPUT): one Check and DecodeChecked against
// the former TooDeep and Decode (which ran utf8.Valid and json.Valid).
func BenchmarkDecodeStage(b *testing.B) {
	path := os.Getenv("CHECK_INPUT")
	if path == "" {
		path = "../internal/jsonstream/testdata/check_auth0.ndjson"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	recs := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	dec, _ := DecoderFor(core.FormatAuth0)
	w := &Work{Decoder: dec}
	for _, bc := range []struct {
		name   string
		decode func([]byte) error
	}{
		{"check", func(r []byte) error { _, err := w.decode(r); return err }},
		{"toodeep+decode", func(r []byte) error {
			if jsonstream.TooDeep(r, jsonstream.MaxDepth) {
				return ErrTooDeep
			}
			_, err := dec.Decode(r)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				for _, r := range recs {
					bc.decode(r)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*len(recs)), "us/user")
		})
	}
}
