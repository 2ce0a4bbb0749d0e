package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

// scratch is one transform worker's reusable memory.
type scratch struct {
	// enc is the encode buffer: a user is encoded into it and then copied out at its exact
	// size, so the encoder never grows a fresh slice by doubling (which cost more CPU and
	// garbage than the encoding itself) and the copy that travels on holds no slack.
	enc []byte
}

// maxScratch bounds what a worker keeps between users: one oversized profile must not pin
// megabytes for the rest of the run.
const maxScratch = 256 << 10

// process turns a raw record into an encoded item (the run's Work), or marks it rejected
// with the stage and the reason. It runs in N workers at once and never fails the run.
func (cfg *Config) process(e *entry, w *scratch) {
	e.item = core.Item{Seq: e.seq, Ref: e.rec.Ref, Raw: e.rec.Data}
	if e.rec.Err != nil {
		e.reject("read", e.rec.Err)
		cfg.observe(e, nil)
		return
	}
	u, buf, changes, stage, err := cfg.Work.Process(e.rec.Data, w.enc[:0], e.rec.Ref)
	e.item.User, e.changes = u, changes
	if buf != nil && cap(buf) <= maxScratch {
		w.enc = buf[:0]
	}
	if err != nil {
		e.reject(stage, err)
		cfg.observe(e, err)
		return
	}
	e.item.Data = append(make([]byte, 0, len(buf)), buf...)
	cfg.observe(e, nil)
}

func (cfg *Config) observe(e *entry, err error) {
	if cfg.Observe == nil {
		return
	}
	u := e.item.User
	if u == nil {
		// Not decodable: observers still count it, under the record's position.
		u = &schemas.User{ID: e.rec.Ref}
	}
	cfg.Observe(u, e.changes, err)
}

func (e *entry) reject(stage string, err error) {
	e.stage, e.reason, e.outcome = stage, err.Error(), core.Rejected
}

// batchUp restores read order when the sink needs it (a file: reproducible backups), packs
// users into batches by count and bytes, and passes rejected records straight on to the
// committer.
func (cfg *Config) batchUp(ctx context.Context, in <-chan *entry, out chan<- *batch, done chan<- *batch) error {
	_, ordered := cfg.Sink.(core.Sequential)
	keyed, _ := cfg.Sink.(core.Keyed)
	var names *schemas.NameSet
	if keyed != nil {
		// In read order, so that "the first" of two users with one key is the same on
		// every run.
		ordered = true
		names = schemas.NewNameSet()
	}
	var (
		cur     = &batch{}
		size    int
		next    int64
		waiting = map[int64]*entry{}
	)
	send := func(ch chan<- *batch, b *batch) error {
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	flush := func() error {
		if len(cur.entries) == 0 {
			return nil
		}
		b := cur
		cur, size = &batch{}, 0
		return send(out, b)
	}
	add := func(e *entry) error {
		if names != nil && e.outcome != core.Rejected {
			// Here rather than in the workers: one goroutine sees every user, in read order.
			if attr, key := keyed.UserKey(e.item.User); key != "" {
				if first, dup := names.Seen(key, e.rec.Ref); dup {
					e.reject("validate", fmt.Errorf("%s: %q is already used by the user at %s (the target identifies users by %s, compared case-insensitively)", attr, key, first, attr))
				}
			}
		}
		if e.outcome == core.Rejected {
			return send(done, &batch{entries: []*entry{e}})
		}
		n := len(e.item.Data)
		if len(cur.entries) > 0 && (len(cur.entries) >= cfg.Batch.MaxCount || size+n > cfg.Batch.MaxBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		cur.entries = append(cur.entries, e)
		cur.items = append(cur.items, e.item)
		size += n
		return nil
	}
	for e := range in {
		if !ordered {
			if err := add(e); err != nil {
				return err
			}
			continue
		}
		waiting[e.seq] = e
		for {
			w, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			if err := add(w); err != nil {
				return err
			}
		}
	}
	if len(waiting) > 0 && ctx.Err() == nil {
		return fmt.Errorf("pipeline: %d records lost in reordering (next %d)", len(waiting), next)
	}
	return flush()
}

// write sends one batch to the sink (or, in a dry run, pretends to) and stores the results.
func (cfg *Config) write(ctx context.Context, b *batch) error {
	if cfg.DryRun {
		for _, e := range b.entries {
			e.outcome = core.Created
		}
		return nil
	}
	if cfg.Sent != nil {
		if err := cfg.Sent(b.items); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	b.sink = true
	res, err := cfg.Sink.Write(ctx, b.items)
	if err != nil {
		return fmt.Errorf("target %s: %w", cfg.Sink.Name(), err)
	}
	if len(res) != len(b.items) {
		return fmt.Errorf("target %s: %d results for %d users", cfg.Sink.Name(), len(res), len(b.items))
	}
	if err := cfg.verify(ctx, b.items, res); err != nil {
		return err
	}
	if cfg.InDoubt != nil {
		// --upsert found the user as ferry would write it: written by the run that crashed,
		// as the clean run would have reported it.
		for i := range res {
			if res[i].Outcome == core.Unchanged && cfg.InDoubt(b.items[i]) {
				res[i].Outcome = core.Created
			}
		}
	}
	dropped, _ := cfg.Work.(DropRecorder)
	for i, r := range res {
		e := b.entries[i]
		e.outcome = r.Outcome
		if r.Outcome == core.Rejected {
			e.stage, e.reason = "target", r.Reason
			continue
		}
		if len(r.Lost) > 0 && dropped != nil && e.item.User != nil {
			e.changes = append(e.changes, dropped.Dropped(e.item.User, r.Lost)...)
		}
		// Written: the committer needs the outcome, ref, cursor and changes only. Batches
		// wait for it, so letting the record, the user and its encoding go here lowers the
		// heap's high-water mark.
		e.rec.Data, e.item = nil, core.Item{}
	}
	b.items = nil
	return nil
}

// verify settles the users the sink refused as already in the target, when it can read
// them back: the same data is no conflict (counted created when an earlier run of this
// migration sent the user, unchanged otherwise); other data stays rejected, naming the
// target's user, and is never overwritten without --upsert.
func (cfg *Config) verify(ctx context.Context, items []core.Item, res []core.Result) error {
	v, ok := cfg.Sink.(core.Verifier)
	if !ok {
		return nil
	}
	var idx []int
	var ask []core.Item
	for i, r := range res {
		if r.Outcome == core.Rejected && r.Exists {
			it := items[i]
			it.InDoubt = cfg.InDoubt != nil && cfg.InDoubt(it)
			idx = append(idx, i)
			ask = append(ask, it)
		}
	}
	if len(ask) == 0 {
		return nil
	}
	verdicts, err := v.Verify(ctx, ask)
	if err != nil {
		return fmt.Errorf("target %s: verify existing users: %w", cfg.Sink.Name(), err)
	}
	if len(verdicts) != len(ask) {
		return fmt.Errorf("target %s: %d verdicts for %d users", cfg.Sink.Name(), len(verdicts), len(ask))
	}
	for k, i := range idx {
		d, r, inDoubt := verdicts[k], &res[i], ask[k].InDoubt
		switch {
		case d.Same:
			out := core.Unchanged
			if inDoubt {
				out = core.Created
			}
			*r = core.Result{Outcome: out, TargetID: d.TargetID}
		case d.Found:
			r.Reason += fmt.Sprintf("; the target's user %s holds other data (%s)", orUnknownID(d.TargetID), d.Diff)
			if inDoubt {
				r.Reason += ", although a run of this migration that crashed sent this user: it has changed in the target since"
			} else {
				r.Reason += ", not written by this migration"
			}
			r.Reason += "; not overwritten without --upsert"
		}
	}
	return nil
}

func orUnknownID(id string) string {
	if id == "" {
		return "(id unknown)"
	}
	return id
}

// committer counts outcomes, writes rejects and changes, and advances the checkpoint: the
// cursor of the last record such that it and every record before it are committed.
type committer struct {
	cfg *Config
	sum Summary // every record committed
	// done counts the committed prefix: the records up to cursor. Batches finish out of
	// order, and a checkpoint must count only what a resumed run will not read again.
	done    Summary
	pending map[int64]settled
	next    int64
	cursor  string
	last    time.Time
}

// settled is what the prefix needs of a committed record that is not yet part of it.
type settled struct {
	cursor  string
	outcome core.Outcome
	changes int64
}

func (c *committer) run(ctx context.Context, done <-chan *batch) error {
	for {
		select {
		case b, ok := <-done:
			if !ok {
				return nil
			}
			before := c.next
			sink := b.sink
			if err := c.commitBatch(b); err != nil {
				return err
			}
			// Take what else is ready before syncing: one journal line for all of it.
		more:
			for {
				select {
				case b, ok := <-done:
					if !ok {
						break more
					}
					sink = sink || b.sink
					if err := c.commitBatch(b); err != nil {
						return err
					}
				default:
					break more
				}
			}
			journal := c.cfg.Journal != nil && sink && c.next > before
			timer := c.cfg.Checkpoint != nil && time.Since(c.last) >= c.cfg.CheckpointEvery
			if journal || timer {
				// The logs first: once the cursor moves past a record, a crash must not
				// take its reject line or its changes with it.
				if err := c.flushLogs(); err != nil {
					return err
				}
			}
			if journal {
				if err := c.cfg.Journal(c.cursor, c.next, c.prefix()); err != nil {
					return fmt.Errorf("checkpoint: %w", err)
				}
			}
			if timer {
				c.last = time.Now()
				if err := c.cfg.Checkpoint(c.cursor, c.prefix()); err != nil {
					return fmt.Errorf("checkpoint: %w", err)
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *committer) commitBatch(b *batch) error {
	for _, e := range b.entries {
		if err := c.commit(e); err != nil {
			return err
		}
	}
	return nil
}

// count adds one record's outcome to s.
func count(s *Summary, o core.Outcome, changes int64) {
	switch o {
	case core.Created:
		s.Created++
		s.Written++
	case core.Updated:
		s.Updated++
		s.Written++
	case core.Unchanged:
		s.Skipped++
	case core.Rejected:
		s.Rejected++
	}
	s.Changes += changes
}

// prefix is the summary of the committed prefix, as a checkpoint records it.
func (c *committer) prefix() Summary {
	s := c.done
	s.Read = c.next
	s.Cursor = c.cursor
	return s
}

func (c *committer) commit(e *entry) error {
	st := c.cfg.Stats
	switch e.outcome {
	case core.Created, core.Updated:
		st.Written.Add(1)
	case core.Unchanged:
		st.Skipped.Add(1)
	case core.Rejected:
		st.Rejected.Add(1)
		if c.cfg.Rejects != nil {
			if err := c.cfg.Rejects.Reject(e); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("pipeline: %s: no outcome (sink returned %v)", e.rec.Ref, e.outcome)
	}
	count(&c.sum, e.outcome, int64(len(e.changes)))
	if c.cfg.Changes != nil {
		for i := range e.changes {
			if err := c.cfg.Changes.Change(&e.changes[i]); err != nil {
				return err
			}
		}
	}
	c.pending[e.seq] = settled{cursor: e.rec.Cursor, outcome: e.outcome, changes: int64(len(e.changes))}
	for {
		p, ok := c.pending[c.next]
		if !ok {
			break
		}
		delete(c.pending, c.next)
		c.next++
		count(&c.done, p.outcome, p.changes)
		if p.cursor != "" {
			c.cursor = p.cursor
		}
	}
	return nil
}

// finish records the last checkpoint: the committed prefix, which is every record read
// unless the run failed with batches out of order.
func (c *committer) finish(s Summary) error {
	if err := c.flushLogs(); err != nil {
		return err
	}
	p := c.prefix()
	p.Seconds, p.DryRun, p.Interrupted = s.Seconds, s.DryRun, s.Interrupted
	if c.cfg.Journal != nil && !s.DryRun {
		if err := c.cfg.Journal(c.cursor, c.next, p); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if c.cfg.Checkpoint != nil {
		if err := c.cfg.Checkpoint(c.cursor, p); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// flushLogs writes the buffered rejects and changes out to their files.
func (c *committer) flushLogs() error {
	var errs []error
	for _, l := range []*Log{c.cfg.Rejects, c.cfg.Changes} {
		if l != nil {
			errs = append(errs, l.Flush())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rejects/changes log: %w", err)
	}
	return nil
}
