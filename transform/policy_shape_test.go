package transform

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"

	fgen "github.com/ferry-dev/ferry/internal/gen"
)

// TestShapeHash: blobs share a shape exactly when they have the same names, nesting and
// value kinds; values and insignificant whitespace do not count.
func TestShapeHash(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{`{"a":1}`, `{"a":2}`, true},
		{`{"a":"x","b":[1,2]}`, ` { "a" : "yy" , "b" : [ 3 , 4 ] } `, true},
		{`{"a":true}`, `{"a":false}`, true},
		{`{"a":1}`, `{"a":"1"}`, false},
		{`{"a":1}`, `{"a":null}`, false},
		{`{"a":1}`, `{"b":1}`, false},
		{`{"a":1}`, `{"a":[1]}`, false},
		{`{"a":[1]}`, `{"a":[1,1]}`, false},
		{`{"a":{"b":1}}`, `{"a.b":1}`, false},
		{`{"ab":1}`, `{"a":{"b":1}}`, false},
		{`{"a":{}}`, `{"a":[]}`, false},
		{`{"a":{},"b":1}`, `{"a":{"b":1}}`, false},
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, false},
	} {
		fa, sa := mdScanFlags([]byte(tc.a))
		fb, sb := mdScanFlags([]byte(tc.b))
		if fa&scInvalid != 0 || fb&scInvalid != 0 {
			t.Fatalf("%s / %s: invalid", tc.a, tc.b)
		}
		if (sa == sb) != tc.same {
			t.Errorf("%s / %s: same shape %v, want %v", tc.a, tc.b, sa == sb, tc.same)
		}
	}
}

// TestShapeCacheChangesNothing runs generated users (a third of them awkward) through the
// whole chain twice, with the type rule's shape cache and with every blob walked: every
// user must come out the same, with the same changes and the same rejections.
func TestShapeCacheChangesNothing(t *testing.T) {
	var buf bytes.Buffer
	app, _ := fgen.ForProvider("auth0")
	if err := fgen.WriteNDJSON(&buf, app, 3, 3000, fgen.Options{Nasty: 0.3}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultPolicyConfig()
	cached, err := NewPolicies(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	uncached, _ := NewPolicies(cfg, nil)
	tc := typePolicyOf(cached)
	typePolicyOf(uncached).noShapes = true
	skipped := 0
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		a, errA := decodeAuth0(sc.Bytes())
		b, errB := decodeAuth0(sc.Bytes())
		if errA != nil || errB != nil {
			continue
		}
		if tc.shapes.known(shapeOf(a.Ferry.UserMetadata, blobUser)) {
			skipped++
		}
		ca, cb := &Changes{}, &Changes{}
		errA, errB = ApplyAll(cached, a, ca), ApplyAll(uncached, b, cb)
		if !sameErr(errA, errB) {
			t.Fatalf("line %d: %v with the cache, %v without", n, errA, errB)
		}
		if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ca.List, cb.List) {
			t.Fatalf("line %d: the user or its changes differ with the cache", n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The cache must have been used, or this test compares the chain with itself.
	if skipped == 0 {
		t.Fatal("no user_metadata was of a remembered shape")
	}
	t.Logf("%d users' user_metadata was of a remembered shape", skipped)
}

func typePolicyOf(ps []Policy) *typePolicy {
	for _, p := range ps {
		if x, ok := p.(*typePolicy); ok {
			return x
		}
	}
	return nil
}

func shapeOf(raw []byte, i int) uint64 {
	_, s := mdScanFlags(raw)
	return s ^ uint64(i)
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	var ra, rb *Rejection
	if errors.As(a, &ra) && errors.As(b, &rb) {
		return *ra == *rb
	}
	return a.Error() == b.Error()
}
