package run

import (
	"fmt"
	"os"

	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/pipeline"
)

// setupResume restarts the source after the cursor a previous run left (the later of
// the state file's and its journal's), makes the pipeline journal every committed batch
// and every batch sent, and tells it which users an earlier run sent without committing
// (in doubt). It returns the state resumed from and the open journal.
func setupResume(job Job, src core.Source, dst core.Sink, cfg *pipeline.Config) (*checkpoint.State, *checkpoint.Journal, error) {
	from, to := endpoint.Redact(job.From), endpoint.Redact(job.To)
	st, err := checkpoint.Load(job.Resume, from, to)
	if err != nil {
		return nil, nil, err
	}
	jpath := checkpoint.JournalPath(job.Resume)
	replay := &checkpoint.Replay{InDoubt: map[uint64]bool{}}
	if st == nil || !st.Done {
		if replay, err = checkpoint.ReadJournal(jpath); err != nil {
			return nil, nil, err
		}
		if l := replay.Last; l != nil {
			if l.From != from || l.To != to {
				return nil, nil, fmt.Errorf("checkpoint: %s: %w (from %s to %s): %w", jpath, checkpoint.ErrMismatch, l.From, l.To, core.ErrUsage)
			}
			if st == nil || l.Commits > st.Commits {
				st = l
			}
		}
	}
	if st == nil || st.Cursor == "" || st.Done {
		st = nil
	} else {
		r, ok := src.(core.Resumer)
		if !ok {
			return nil, nil, fmt.Errorf("--resume: source %s cannot restart from a position: %w", src.Name(), core.ErrUsage)
		}
		if _, isFile := dst.(core.Sequential); isFile {
			// A file target is written whole or not at all; resuming would leave out the
			// users committed before the crash.
			return nil, nil, fmt.Errorf("--resume: target %s is a file, which is rewritten from the start on each run; remove %s to start over: %w", dst.Name(), job.Resume, core.ErrUsage)
		}
		if err := r.ResumeAfter(st.Cursor); err != nil {
			return nil, nil, err
		}
	}
	j, err := checkpoint.OpenJournal(jpath, replay, st)
	if err != nil {
		return nil, nil, err
	}
	var commits int64 // touched by the committer only, then by Run's end
	if st != nil {
		commits = st.Commits
	}
	cfg.Journal = func(cursor string, next int64, s pipeline.Summary) error {
		commits++
		c := stateOf(job, st, cursor, s)
		c.Commits = commits
		return j.Commit(c, next)
	}
	cfg.Checkpoint = func(cursor string, s pipeline.Summary) error {
		c := stateOf(job, st, cursor, s)
		c.Commits = commits
		return checkpoint.Save(job.Resume, c)
	}
	cfg.Sent = func(items []core.Item) error {
		seqs, marks := make([]int64, len(items)), make([]uint64, len(items))
		for i := range items {
			seqs[i], marks[i] = items[i].Seq, checkpoint.Mark(items[i].Ref)
		}
		return j.Sent(seqs, marks)
	}
	if doubt := replay.InDoubt; len(doubt) > 0 {
		cfg.InDoubt = func(it core.Item) bool { return doubt[checkpoint.Mark(it.Ref)] }
	}
	return st, j, nil
}

// finishResume marks a finished run's state done: the next run with the same file starts
// afresh, and nothing is in doubt any more.
func finishResume(job Job, resumed *checkpoint.State, journal *checkpoint.Journal, s pipeline.Summary) error {
	st := stateOf(job, resumed, s.Cursor, s)
	st.Done = true
	if err := checkpoint.Save(job.Resume, st); err != nil {
		return err
	}
	return journal.Remove()
}

// stateOf is the state to save: the counts of the runs before a resume plus this one's.
// (checkpoint.Save keeps the resumed-from cursor until this run commits further.)
func stateOf(job Job, prev *checkpoint.State, cursor string, s pipeline.Summary) *checkpoint.State {
	st := &checkpoint.State{From: endpoint.Redact(job.From), To: endpoint.Redact(job.To), Cursor: cursor,
		Read: s.Read, Written: s.Written, Created: s.Created, UpdatedUsers: s.Updated,
		Rejected: s.Rejected, Skipped: s.Skipped, Changes: s.Changes}
	if prev != nil {
		st.Read += prev.Read
		st.Written += prev.Written
		st.Created += prev.Created
		st.UpdatedUsers += prev.UpdatedUsers
		st.Rejected += prev.Rejected
		st.Skipped += prev.Skipped
		st.Changes += prev.Changes
		if cursor == "" {
			st.Cursor = prev.Cursor
		}
	}
	return st
}

// addRuns makes a resumed run's summary that of the whole migration: the records the
// runs before it committed, up to the cursor it resumed from, plus its own. After any
// number of crashes the summary reads as one clean run's would.
func addRuns(s *pipeline.Summary, prev *checkpoint.State) {
	if prev == nil {
		return
	}
	if s.Cursor == "" {
		s.Cursor = prev.Cursor // this run committed nothing of its own
	}
	s.Read += prev.Read
	s.Written += prev.Written
	// A state file from before the split into created and updated counted both as written.
	s.Created += max(prev.Created, prev.Written-prev.UpdatedUsers)
	s.Updated += prev.UpdatedUsers
	s.Rejected += prev.Rejected
	s.Skipped += prev.Skipped
	s.Changes += prev.Changes
}

// openLogs opens the rejects and change logs the Job names (appended to on a resumed
// run: the reasons recorded before the crash must survive it) and writes the catalog's
// changes first. The returned func closes them; call it even on error.
func openLogs(job Job, cfg *pipeline.Config, resumed *checkpoint.State, catChanges []core.Change) (func(), error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, l := range []struct {
		path string
		dst  **pipeline.Log
	}{{job.Rejects, &cfg.Rejects}, {job.Changes, &cfg.Changes}} {
		if l.path == "" {
			continue
		}
		w, err := openPrivate(l.path, resumed != nil)
		if err != nil {
			return closeAll, err
		}
		files = append(files, w)
		*l.dst = pipeline.NewLog(w)
	}
	if cfg.Changes != nil && resumed == nil {
		// The catalog's spelling changes come first, once: a resumed run logged them before.
		for i := range catChanges {
			if err := cfg.Changes.Change(&catChanges[i]); err != nil {
				return closeAll, fmt.Errorf("--changes %s: %w", job.Changes, err)
			}
		}
	}
	if resumed != nil && cfg.Rejects != nil {
		// Records replayed after the checkpoint may have been rejected before the crash.
		if r, err := os.Open(job.Rejects); err == nil {
			refs, err := pipeline.ReadRejectRefs(r)
			r.Close()
			if err != nil {
				return closeAll, fmt.Errorf("--rejects %s: %w", job.Rejects, err)
			}
			cfg.Rejects.SkipRefs(refs)
		}
	}
	return closeAll, nil
}

// openPrivate opens a file for user data, mode 0600 whatever the umask: truncated, or
// appended to when a resumed run continues it.
func openPrivate(path string, appendTo bool) (*os.File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
