package checkpoint

import (
	"os"
	"path/filepath"
	"testing"
)

// TestJournalReplay: after runs that die with batches in flight, the replay holds the
// last commit and, as in doubt, exactly the users sent past each run's committed prefix;
// a torn last line (the kill landed mid-write) is ignored, a torn line before it is not.
func TestJournalReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json.journal")
	r, err := ReadJournal(path)
	if err != nil || r.Last != nil || len(r.InDoubt) != 0 {
		t.Fatalf("missing journal: %+v, %v; want an empty replay", r, err)
	}
	// Run 1: sends seqs 0-3 and 4-7, commits through seq 3, dies.
	j, err := OpenJournal(path, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, j.Sent([]int64{0, 1, 2, 3}, []uint64{10, 11, 12, 13}))
	must(t, j.Sent([]int64{4, 5, 6, 7}, []uint64{14, 15, 16, 17}))
	must(t, j.Commit(&State{From: "a", To: "b", Cursor: "n=4", Read: 4, Written: 4, Commits: 1}, 4))
	j.Close()
	r, err = ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Last == nil || r.Last.Cursor != "n=4" || r.Last.Commits != 1 {
		t.Fatalf("last commit %+v", r.Last)
	}
	assertMarks(t, r, 14, 15, 16, 17)

	// Run 2 resumes: the journal is compacted to what matters; it sends one batch and
	// dies mid-line.
	j, err = OpenJournal(path, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, j.Sent([]int64{0, 1}, []uint64{14, 15}))
	must(t, j.Commit(&State{From: "a", To: "b", Cursor: "n=6", Read: 6, Written: 6, Commits: 2}, 2))
	must(t, j.Sent([]int64{2, 3}, []uint64{16, 17}))
	j.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"commit":{"cursor":"n=`)
	f.Close()
	r, err = ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Last.Cursor != "n=6" {
		t.Errorf("cursor %q after a torn last line, want n=6", r.Last.Cursor)
	}
	// 14-17 stay in doubt (run 1 sent them, and run 2's prefix is counted in its own seqs).
	assertMarks(t, r, 14, 15, 16, 17)

	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("\n" + `{"run":1}` + "\n")
	f.Close()
	if _, err := ReadJournal(path); err == nil {
		t.Error("a torn line in the middle was read without error")
	}
}

func TestJournalCarriesStateAndRemoves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := OpenJournal(path, &Replay{InDoubt: map[uint64]bool{}}, &State{Cursor: "n=9", Commits: 3})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	r, err := ReadJournal(path)
	if err != nil || r.Last == nil || r.Last.Cursor != "n=9" {
		t.Fatalf("carried state: %+v, %v", r.Last, err)
	}
	must(t, j.Remove())
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("journal still there after Remove: %v", err)
	}
}

func TestMark(t *testing.T) {
	if Mark("line 1") != Mark("line 1") {
		t.Error("Mark is not deterministic")
	}
	if Mark("line 1") == Mark("line 2") || Mark("auth0|a") == Mark("auth0|b") {
		t.Error("Mark ignores the ref")
	}
}

func assertMarks(t *testing.T, r *Replay, want ...uint64) {
	t.Helper()
	if len(r.InDoubt) != len(want) {
		t.Errorf("in doubt %v, want %v", r.InDoubt, want)
	}
	for _, m := range want {
		if !r.InDoubt[m] {
			t.Errorf("mark %d not in doubt (have %v)", m, r.InDoubt)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
