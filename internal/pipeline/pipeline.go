// Package pipeline runs one migration: Source -> transform workers -> batcher -> Sink
// workers -> committer, over bounded channels so memory stays flat at any user count.
// Every record read ends in exactly one of written, rejected or skipped, and the committer
// checks that the counts add up.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"golang.org/x/sync/errgroup"
)

// Config is one run.
type Config struct {
	Source core.Source
	Sink   core.Sink
	// Work turns each record read from Source into a user encoded for Sink.
	Work Work
	// Observe sees every user after transform (plan mode learns from it). Called
	// concurrently; a record that could not be decoded comes as a User holding only its
	// position in ID.
	Observe func(u *schemas.User, changes []core.Change, err error)

	Workers     int              // transform workers; default GOMAXPROCS
	Concurrency int              // sink writers; default 4 (1 for a Sequential sink)
	Batch       core.BatchLimits // default 500 users / 4 MiB; a Batched sink's limits win when smaller
	DryRun      bool             // nothing reaches the sink: the one choke point for --dry-run

	Rejects *Log // optional: rejected records with their reasons
	Changes *Log // optional: every change a policy made
	Stats   *Stats
	// Checkpoint is called with the source cursor up to which every record is committed
	// (written, rejected or skipped) and the counts of those records, at most every
	// CheckpointEvery and once at the end.
	Checkpoint      func(cursor string, s Summary) error
	CheckpointEvery time.Duration
	// Journal, when set, is called like Checkpoint but after every sink batch that moves
	// the committed prefix, with next the seq of the first record not yet committed: the
	// per-batch checkpoint, so a crash replays at most the batches in flight.
	Journal func(cursor string, next int64, s Summary) error
	// Sent, when set, is told of every batch before it goes to the sink (the journal notes
	// who may be in the target if the run dies before the batch commits).
	Sent func(items []core.Item) error
	// InDoubt says whether an earlier run of this migration sent this user to the target
	// without committing it: a user a Verifier finds there as ferry would write it then
	// counts as created (the clean run would have created it), not as unchanged.
	InDoubt func(core.Item) bool
	// Stop, when closed, stops reading; what was read is still transformed and written.
	Stop <-chan struct{}
}

// Work is the per-record work a run hands the pipeline (transform.Work: check and decode,
// policies, validation, encoding). Process is called from several workers at once; it
// appends the encoded user to dst and returns it as out, and a record it refuses comes
// back with the stage that refused it and why (the user is nil when it could not be
// decoded).
type Work interface {
	Process(data, dst []byte, ref string) (u *schemas.User, out []byte, changes []core.Change, stage string, err error)
}

// DropRecorder is a Work that can put in the change log the values of attributes a
// target accepted and did not keep (core.Result.Lost), so no value is lost unrecorded.
type DropRecorder interface {
	Dropped(u *schemas.User, paths []string) []core.Change
}

// Summary is the outcome of a run. Written = Created + Updated; Skipped = Unchanged.
type Summary struct {
	Read        int64   `json:"read"`
	Written     int64   `json:"written"`
	Created     int64   `json:"created"`
	Updated     int64   `json:"updated"`
	Rejected    int64   `json:"rejected"`
	Skipped     int64   `json:"skipped"`
	Changes     int64   `json:"changes"`
	Seconds     float64 `json:"seconds"`
	UsersPerSec float64 `json:"users_per_second"`
	Cursor      string  `json:"cursor,omitempty"`
	DryRun      bool    `json:"dry_run,omitempty"`
	Interrupted bool    `json:"interrupted,omitempty"`
	// Discarded says the target threw away what it was given: a file is written whole or
	// not at all, so after a failure or an interruption the users counted written are not
	// in it.
	Discarded bool `json:"discarded,omitempty"`
}

// Stats are live counters for progress display.
type Stats struct {
	Read, Written, Rejected, Skipped atomic.Int64
}

// ErrCounts means records went missing between reading and committing: a bug, never
// acceptable silently.
var ErrCounts = errors.New("pipeline: counts do not add up")

// ErrInterrupted is returned when Stop ended the read early; the summary is still valid.
var ErrInterrupted = fmt.Errorf("interrupted: %w", core.ErrAborted)

// entry is one record's way through the pipeline.
type entry struct {
	seq     int64
	rec     core.Record
	item    core.Item
	changes []core.Change
	stage   string // where it was rejected: read, decode, policy, validate, encode, target
	reason  string
	outcome core.Outcome
}

type batch struct {
	entries []*entry
	items   []core.Item
	sink    bool // went to the sink (not a record rejected before it)
}

// Run runs the pipeline. A fatal error (source unreadable, target gone) aborts the sink
// and is returned with the summary of what was committed up to then.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	cfg.defaults()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	readCtx, stopRead := context.WithCancel(gctx)
	defer stopRead()
	var interrupted atomic.Bool
	if cfg.Stop != nil {
		go func() {
			select {
			case <-cfg.Stop:
				interrupted.Store(true)
				stopRead()
			case <-readCtx.Done():
			}
		}()
	}

	jobs := make(chan *entry, cfg.Workers*16)
	transformed := make(chan *entry, cfg.Workers*16)
	batches := make(chan *batch)
	done := make(chan *batch, cfg.Concurrency)

	var srcErr error
	var read int64
	g.Go(func() error {
		defer close(jobs)
		err := cfg.Source.Users(readCtx, func(rec core.Record) error {
			e := &entry{seq: read, rec: rec}
			select {
			case jobs <- e:
				read++
				cfg.Stats.Read.Add(1)
				return nil
			case <-readCtx.Done():
				return readCtx.Err()
			}
		})
		if err != nil && !(interrupted.Load() && errors.Is(err, context.Canceled)) && gctx.Err() == nil {
			// Drain what was read, then fail: the records before the error are committed
			// and the checkpoint lets a resumed run pick up from there.
			srcErr = fmt.Errorf("source %s: %w", cfg.Source.Name(), err)
		}
		return nil
	})

	var workers sync.WaitGroup
	for range cfg.Workers {
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			var w scratch
			for e := range jobs {
				cfg.process(e, &w)
				select {
				case transformed <- e:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		workers.Wait()
		close(transformed)
		return nil
	})

	var producers sync.WaitGroup
	producers.Add(1 + cfg.Concurrency)
	g.Go(func() error {
		defer producers.Done()
		defer close(batches)
		return cfg.batchUp(gctx, transformed, batches, done)
	})
	for range cfg.Concurrency {
		g.Go(func() error {
			defer producers.Done()
			for b := range batches {
				if err := cfg.write(gctx, b); err != nil {
					return err
				}
				select {
				case done <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		producers.Wait()
		close(done)
		return nil
	})

	c := committer{cfg: &cfg, pending: map[int64]settled{}, last: time.Now()}
	g.Go(func() error { return c.run(gctx, done) })

	err := g.Wait()
	s := c.sum
	s.Read = read
	s.Seconds = time.Since(start).Seconds()
	if s.Seconds > 0 {
		s.UsersPerSec = float64(s.Written+s.Rejected+s.Skipped) / s.Seconds
	}
	s.DryRun = cfg.DryRun
	s.Interrupted = interrupted.Load()
	s.Cursor = c.cursor
	if err == nil {
		err = srcErr
	}
	if err == nil && s.Read != s.Written+s.Rejected+s.Skipped {
		err = fmt.Errorf("%w: read %d, written %d, rejected %d, skipped %d", ErrCounts, s.Read, s.Written, s.Rejected, s.Skipped)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if cerr := c.finish(s); err == nil {
		err = cerr
	}
	if err == nil && s.Interrupted {
		err = ErrInterrupted
	}
	if err != nil || cfg.DryRun {
		if a, ok := cfg.Sink.(core.Aborter); ok {
			a.Abort()
			s.Discarded = !cfg.DryRun && s.Written > 0
		}
		return s, err
	}
	if err := cfg.Sink.Close(ctx); err != nil {
		return s, fmt.Errorf("target %s: %w", cfg.Sink.Name(), err)
	}
	return s, nil
}

func (cfg *Config) defaults() {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if _, seq := cfg.Sink.(core.Sequential); seq || cfg.Concurrency <= 0 {
		if seq {
			cfg.Concurrency = 1
		} else {
			cfg.Concurrency = 4
		}
	}
	// A sink's own limits (Auth0: one import file; SCIM: maxOperations) win over the
	// defaults, larger or smaller; a limit the user set (--batch-size) still caps them.
	if b, ok := cfg.Sink.(core.Batched); ok {
		l := b.BatchLimits()
		cfg.Batch.MaxCount = tighter(cfg.Batch.MaxCount, l.MaxCount)
		cfg.Batch.MaxBytes = tighter(cfg.Batch.MaxBytes, l.MaxBytes)
	}
	if cfg.Batch.MaxCount <= 0 {
		cfg.Batch.MaxCount = 500
	}
	if cfg.Batch.MaxBytes <= 0 {
		cfg.Batch.MaxBytes = 4 << 20
	}
	if cfg.Stats == nil {
		cfg.Stats = new(Stats)
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 2 * time.Second
	}
}

// tighter is the smaller of two limits, where 0 means no limit.
func tighter(a, b int) int {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}
