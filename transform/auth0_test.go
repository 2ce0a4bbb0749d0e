package transform

import "testing"

func FuzzDecodeAuth0(f *testing.F) { fuzzDecoder(f, "auth0") }
