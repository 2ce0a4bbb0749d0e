package schemas

import (
	"fmt"
	"strings"
	"testing"
)

// Refs come back exactly as given, whether packed as numbers or kept in the arena.
func TestNameSetRefsRoundTrip(t *testing.T) {
	refs := []string{"line 1", "line 0", "line 1073741823", "line 1073741824", "line 01", "line -1",
		"line ", "line 12a", "element 7", "element 0", "element 00", "auth0|5a497a32b38e726679000000",
		"", "LINE 3", "line 3 ", strings.Repeat("é", 300)}
	s := NewNameSet()
	for i, ref := range refs {
		name := fmt.Sprintf("user%d", i)
		if _, dup := s.Seen(name, ref); dup {
			t.Fatalf("%q: duplicate on first sight", name)
		}
		if got, dup := s.Seen(strings.ToUpper(name), "other"); !dup || got != ref {
			t.Errorf("ref %q came back as %q (dup %v)", ref, got, dup)
		}
	}
}

// Enough names to grow every shard's table past offHeapMin (off the Go heap where mmap
// exists) and to fill more than one arena chunk.
func TestNameSetLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 300000
	s := NewNameSet()
	ref := func(i int) string {
		if i%3 == 0 {
			return fmt.Sprintf("auth0|%024x", i)
		}
		return fmt.Sprintf("line %d", i+1)
	}
	for i := 0; i < n; i++ {
		if _, dup := s.Seen(fmt.Sprintf("u%d@example.com", i), ref(i)); dup {
			t.Fatalf("name %d: duplicate on first sight", i)
		}
	}
	if s.Len() != n {
		t.Fatalf("Len() = %d, want %d", s.Len(), n)
	}
	for i := 0; i < n; i += 997 {
		got, dup := s.Seen(fmt.Sprintf("U%d@EXAMPLE.COM", i), "again")
		if !dup || got != ref(i) {
			t.Fatalf("name %d: got %q, %v; want %q", i, got, dup, ref(i))
		}
	}
}

// Any ref comes back as given (cut to maxRef), whatever packing it took.
func FuzzNameSetRef(f *testing.F) {
	for _, seed := range []string{"line 1", "line 01", "element 0", "element 1073741823", "line 4294967296", "auth0|x", "", "line 1\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		s := NewNameSet()
		s.Seen("a", ref)
		got, dup := s.Seen("A", "b")
		want := ref
		if len(want) > maxRef {
			want = want[:maxRef]
		}
		if !dup || got != want {
			t.Fatalf("ref %q came back as %q (dup %v)", ref, got, dup)
		}
	})
}
