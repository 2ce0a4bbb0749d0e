package checkpoint

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadJournal feeds ReadJournal whatever a crash, a full disk or a hand edit could
// leave: it never panics, and what it reads survives the compaction a resumed run writes
// (the same users in doubt, the same last commit).
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"sent":[[0,1],[1,2]]}` + "\n" + `{"commit":{"cursor":"n=1","commits":1},"next":1}` + "\n" + `{"run":1}` + "\n"))
	f.Add([]byte(`{"run":1}` + "\n" + `{"sent":[[0,18446744073709551615]]}` + "\n" + `{"commit":{"cursor":"n`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"sent":[[0]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "j")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := ReadJournal(path)
		if err != nil {
			return
		}
		again := filepath.Join(dir, "k")
		j, err := OpenJournal(again, r, nil)
		if err != nil {
			t.Fatalf("compacting what was read: %v", err)
		}
		j.Close()
		r2, err := ReadJournal(again)
		if err != nil {
			t.Fatalf("reading the compacted journal: %v", err)
		}
		if len(r2.InDoubt) != len(r.InDoubt) {
			t.Fatalf("in doubt: %d before compaction, %d after", len(r.InDoubt), len(r2.InDoubt))
		}
		for m := range r.InDoubt {
			if !r2.InDoubt[m] {
				t.Fatalf("mark %d lost by compaction", m)
			}
		}
		if (r.Last == nil) != (r2.Last == nil) || r.Last != nil && (r.Last.Cursor != r2.Last.Cursor || r.Last.Commits != r2.Last.Commits) {
			t.Fatalf("last commit %+v became %+v", r.Last, r2.Last)
		}
	})
}
