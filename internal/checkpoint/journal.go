package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"sync"

	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/segmentio/encoding/json"
)

// A Journal is the append-only companion of a state file (STATE.journal). It holds two
// kinds of line:
//
//	{"sent":[[seq,mark],...]}          before a batch goes to the target: which users it holds
//	{"commit":{state},"next":seq}      after the committed prefix moved: fsync'd
//
// and a {"run":n} line where each run begins (seq numbers restart with every run).
//
// Why a journal and not the state file written per batch: one fdatasync of an appended
// line costs less than a temp file, an fsync and a rename (RELIABILITY.md has the
// figures), and the "sent" lines are what lets a resumed run tell a user it wrote itself
// before the crash (in doubt) from one it finds in the target that someone else wrote.
//
// "sent" lines are written but not fsync'd: a killed process loses nothing the kernel
// holds, and losing them to a power cut only makes a user this migration wrote count as
// unchanged rather than written; commit lines move the resume point, so they are synced.
type Journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
	buf  []byte
	run  int64
}

// Replay is what a journal left by earlier runs says.
type Replay struct {
	// Last is the most recent committed state (nil when no commit line survived).
	Last *State
	// InDoubt holds the marks of users sent to the target past the committed prefix of
	// their run: the target may hold them, written by this migration.
	InDoubt map[uint64]bool
}

// JournalPath is the journal kept next to a state file.
func JournalPath(state string) string { return state + ".journal" }

// Mark identifies a user as sent: a hash of the record's ref (the source's user id, or
// its place in a file). Not of the bytes sent: those need not be the same from one run to
// the next (the Auth0 source splices in role names in the order their member lists
// arrived), and whether the target holds what ferry would write is for a Verifier or the
// upsert comparison to say; the mark only says this migration sent the user.
func Mark(ref string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(ref))
	return h.Sum64()
}

type journalLine struct {
	Run    int64       `json:"run,omitempty"`
	Sent   [][2]uint64 `json:"sent,omitempty"`
	Commit *State      `json:"commit,omitempty"`
	Next   int64       `json:"next,omitempty"`
}

// ReadJournal reads the journal at path; a missing file is an empty replay. A torn last
// line (the kill came mid-write) is ignored; a torn line anywhere else is an error.
func ReadJournal(path string) (*Replay, error) {
	r := &Replay{InDoubt: map[uint64]bool{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: journal: %w", err)
	}
	// One run's sent users, kept until the run's last commit says how far it got.
	var sent [][2]uint64
	var next int64
	endRun := func() {
		for _, s := range sent {
			if int64(s[0]) >= next {
				r.InDoubt[s[1]] = true
			}
		}
		sent, next = sent[:0], 0
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, ln := range lines {
		if len(bytes.TrimSpace(ln)) == 0 {
			continue
		}
		var l journalLine
		if err := json.Unmarshal(ln, &l); err != nil {
			if i == len(lines)-1 {
				break // cut short by the kill: only the last line may be
			}
			return nil, fmt.Errorf("checkpoint: journal %s line %d: %w", path, i+1, err)
		}
		switch {
		case l.Run != 0:
			endRun()
		case l.Commit != nil:
			r.Last, next = l.Commit, l.Next
		default:
			sent = append(sent, l.Sent...)
		}
	}
	endRun()
	return r, nil
}

// OpenJournal starts a run's journal at path: it rewrites the file to hold only what a
// later run needs (the users in doubt and the last commit, so the file does not grow with
// every crash) and appends from there. carry is the state to record as committed when
// the journal has none (the state file's).
func OpenJournal(path string, r *Replay, carry *State) (*Journal, error) {
	var b []byte
	if len(r.InDoubt) > 0 {
		l := journalLine{Sent: make([][2]uint64, 0, len(r.InDoubt))}
		for m := range r.InDoubt {
			l.Sent = append(l.Sent, [2]uint64{0, m})
		}
		line, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		b = append(append(b, line...), '\n')
	}
	if st := r.Last; st != nil || carry != nil {
		if st == nil {
			st = carry
		}
		line, err := json.Marshal(journalLine{Commit: st})
		if err != nil {
			return nil, err
		}
		b = append(append(b, line...), '\n')
	}
	b = append(b, `{"run":1}`+"\n"...)
	if err := atomicfile.WriteFile(path, b); err != nil {
		return nil, fmt.Errorf("checkpoint: journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: journal: %w", err)
	}
	return &Journal{path: path, f: f, run: 1}, nil
}

// Sent records the users of a batch about to be written: their seq in this run and
// their Mark.
func (j *Journal) Sent(seqs []int64, marks []uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := append(j.buf[:0], `{"sent":[`...)
	for i := range seqs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, seqs[i], 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, marks[i], 10)
		b = append(b, ']')
	}
	b = append(b, "]}\n"...)
	j.buf = b
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("checkpoint: journal: %w", err)
	}
	return nil
}

// Commit records st as committed, next being the seq of the first record of this run not
// yet committed, and syncs it to disk before returning.
func (j *Journal) Commit(st *State, next int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	st.Version = 1
	line, err := json.Marshal(journalLine{Commit: st, Next: next})
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("checkpoint: journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("checkpoint: journal: %w", err)
	}
	return nil
}

// Close closes the file; Remove closes and deletes it (the migration finished: nothing is
// in doubt any more).
func (j *Journal) Close() error { return j.f.Close() }

func (j *Journal) Remove() error {
	j.f.Close()
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint: journal: %w", err)
	}
	return nil
}
