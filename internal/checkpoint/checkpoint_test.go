package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/segmentio/encoding/json"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if st, err := Load(path, "a", "b"); st != nil || err != nil {
		t.Fatalf("missing file: got %v, %v; want a fresh start", st, err)
	}
	if err := Save(path, &State{From: "a", To: "b", Cursor: "n=10", Read: 10, Written: 10}); err != nil {
		t.Fatal(err)
	}
	st, err := Load(path, "a", "b")
	if err != nil || st.Cursor != "n=10" || st.Version != 1 || st.Updated.IsZero() {
		t.Fatalf("got %+v, %v", st, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := Load(path, "a", "c"); !errors.Is(err, ErrMismatch) || !errors.Is(err, core.ErrUsage) {
		t.Fatalf("other migration: %v; want ErrMismatch and ErrUsage", err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*partial"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// A resumed run saves before it has committed anything of its own; that save must not
// lose the cursor it resumed from (found by test/crash: every second crash restarted the
// migration from the top).
func TestSaveKeepsCursorUntilProgress(t *testing.T) {
	tests := []struct {
		name string
		prev *State
		next State
		want string
	}{
		{"empty save keeps the resume point", &State{From: "a", To: "b", Cursor: "n=5"}, State{From: "a", To: "b"}, "n=5"},
		{"progress replaces it", &State{From: "a", To: "b", Cursor: "n=5"}, State{From: "a", To: "b", Cursor: "n=9"}, "n=9"},
		{"a finished run starts afresh", &State{From: "a", To: "b", Cursor: "n=5", Done: true}, State{From: "a", To: "b"}, ""},
		{"done is saved as given", &State{From: "a", To: "b", Cursor: "n=5"}, State{From: "a", To: "b", Done: true}, ""},
		{"another migration's cursor is not borrowed", &State{From: "x", To: "b", Cursor: "n=5"}, State{From: "a", To: "b"}, ""},
		{"no previous state", nil, State{From: "a", To: "b"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if tc.prev != nil {
				if err := Save(path, tc.prev); err != nil {
					t.Fatal(err)
				}
			}
			if err := Save(path, &tc.next); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			st := new(State)
			if err := json.Unmarshal(b, st); err != nil {
				t.Fatal(err)
			}
			if st.Cursor != tc.want {
				t.Fatalf("cursor %q, want %q", st.Cursor, tc.want)
			}
		})
	}
}

func TestLoadTornOrForeign(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"torn": `{"version":1,"from":"a","to":"b","cur`, "notjson": "\x00\x01", "empty": ""} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path, "a", "b"); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
}
