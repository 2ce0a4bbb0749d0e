package schemas

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestNameSet(t *testing.T) {
	type step struct {
		name, ref string
		wantRef   string
		wantDup   bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"distinct", []step{{"alice", "line 1", "", false}, {"bob", "line 2", "", false}}},
		{"exact repeat", []step{{"alice", "line 1", "", false}, {"alice", "line 7", "line 1", true}, {"alice", "line 9", "line 1", true}}},
		{"ASCII case", []step{{"Alice@Example.com", "a", "", false}, {"alice@example.COM", "b", "a", true}}},
		{"Kelvin sign folds to k", []step{{"kelvin", "a", "", false}, {"\u212Aelvin", "b", "a", true}, {"KELVIN", "c", "a", true}}},
		{"long s folds to s", []step{{"sam", "a", "", false}, {"\u017Fam", "b", "a", true}}},
		{"Greek sigma forms", []step{{"ΟΔΥΣΣΕΥΣ", "a", "", false}, {"οδυσσευς", "b", "a", true}, {"οδυσσευσ", "c", "a", true}}},
		{"Cyrillic", []step{{"Борис", "a", "", false}, {"БОРИС", "b", "a", true}}},
		{"no Unicode normalization: é precomposed vs combining", []step{{"jos\u00e9", "a", "", false}, {"jose\u0301", "b", "", false}}},
		{"white space matters", []step{{"alice", "a", "", false}, {" alice", "b", "", false}, {"alice ", "c", "", false}}},
		{"prefix is not equal", []step{{"al", "a", "", false}, {"alice", "b", "", false}, {"a", "c", "", false}}},
		{"invalid UTF-8 bytes stay distinct", []step{{"a\xffb", "a", "", false}, {"a\xfeb", "b", "", false}, {"a\xffb", "c", "a", true}, {"a\uFFFDb", "d", "", false}}},
		{"empty name", []step{{"", "a", "", false}, {"", "b", "a", true}}},
		{"long names", []step{{strings.Repeat("Ab", 100), "a", "", false}, {strings.Repeat("aB", 100), "b", "a", true}, {strings.Repeat("ab", 99) + "ac", "c", "", false}}},
		{"long ref is cut", []step{{"x", strings.Repeat("r", 2*maxRef), "", false}, {"X", "y", strings.Repeat("r", maxRef), true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewNameSet()
			for i, st := range tt.steps {
				ref, dup := s.Seen(st.name, st.ref)
				if ref != st.wantRef || dup != st.wantDup {
					t.Errorf("step %d Seen(%q) = %q, %v; want %q, %v", i, st.name, ref, dup, st.wantRef, st.wantDup)
				}
			}
		})
	}
}

// The hash agrees with strings.EqualFold on every pair of a set of tricky valid UTF-8
// names (invalid bytes are kept distinct: see "invalid UTF-8 bytes stay distinct").
func TestNameSetHashAgreesWithEqualFold(t *testing.T) {
	names := []string{"k", "K", "\u212A", "s", "S", "\u017F", "ß", "ẞ", "ss", "σ", "ς", "Σ", "i", "I", "İ", "ı",
		"µ", "μ", "Μ", "ǅ", "ǆ", "Ǆ", "Ω", "ω", "\u2126", "å", "Å", "\u212B", "a", "", "\uFFFD"}
	s := NewNameSet()
	for _, a := range names {
		for _, b := range names {
			for _, pre := range []string{"", "user."} {
				x, y := pre+a+"@x", pre+b+"@x"
				if got, want := s.hash(x) == s.hash(y), strings.EqualFold(x, y); got != want {
					t.Errorf("hash(%q) == hash(%q) is %v, EqualFold says %v", x, y, got, want)
				}
			}
		}
	}
}

func TestNameSetConcurrent(t *testing.T) {
	s := NewNameSet()
	const workers, names = 8, 2000
	var mu sync.Mutex
	dups := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < names; i++ {
				name := fmt.Sprintf("User%d@Example.com", i)
				if w%2 == 1 {
					name = strings.ToLower(name)
				}
				if _, dup := s.Seen(name, fmt.Sprintf("w%d/%d", w, i)); dup {
					mu.Lock()
					dups[name]++
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	if s.Len() != names {
		t.Errorf("Len() = %d, want %d", s.Len(), names)
	}
	total := 0
	for _, n := range dups {
		total += n
	}
	if total != names*(workers-1) {
		t.Errorf("%d duplicates reported, want %d", total, names*(workers-1))
	}
}

func BenchmarkNameSetSeen(b *testing.B) {
	s := NewNameSet()
	names := make([]string, 1<<16)
	for i := range names {
		names[i] = fmt.Sprintf("user%07d@example.com", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Seen(names[i&(len(names)-1)], "line 1")
	}
}
