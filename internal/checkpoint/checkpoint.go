// Package checkpoint keeps the resume state of a run (--resume STATE): the source cursor up
// to which every record is committed, written atomically so a crash (kill -9 included)
// leaves either the previous state or the new one, never a torn file.
package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/segmentio/encoding/json"
)

// State is the content of a state file. It holds no credentials: From and To are the
// endpoints as redacted for logs.
type State struct {
	Version int       `json:"version"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Cursor  string    `json:"cursor"`
	Updated time.Time `json:"updated"`
	// Counts of the records up to Cursor, over every run of the migration: a resumed run
	// adds its own, so its summary is that of the whole migration.
	Read         int64 `json:"read"`
	Written      int64 `json:"written"`
	Created      int64 `json:"created,omitempty"`
	UpdatedUsers int64 `json:"updated_users,omitempty"`
	Rejected     int64 `json:"rejected"`
	Skipped      int64 `json:"skipped"`
	Changes      int64 `json:"changes,omitempty"`
	// Commits counts the checkpoints of the migration: of a state file and its journal,
	// the one with more is the later.
	Commits int64 `json:"commits,omitempty"`
	Done    bool  `json:"done"`
}

// ErrMismatch means the state file belongs to another migration.
var ErrMismatch = errors.New("state file belongs to another migration")

// Load reads path; a missing file is a fresh start (nil, nil).
func Load(path, from, to string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	s := new(State)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	if s.From != from || s.To != to {
		return nil, fmt.Errorf("checkpoint: %s: %w (from %s to %s): %w", path, ErrMismatch, s.From, s.To, core.ErrUsage)
	}
	return s, nil
}

// Save writes s to path atomically, mode 0600.
//
// An unfinished state with no cursor never replaces one with a cursor for the same
// migration: a resumed run has committed nothing of its own until its first record is
// through, and its first periodic save would otherwise send the next restart back to the
// beginning of the source (a whole re-import after every crash).
func Save(path string, s *State) error {
	if s.Cursor == "" && !s.Done {
		if prev, err := Load(path, s.From, s.To); err == nil && prev != nil && !prev.Done && prev.Cursor != "" {
			s.Cursor = prev.Cursor
		}
	}
	s.Version = 1
	s.Updated = time.Now().UTC()
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
