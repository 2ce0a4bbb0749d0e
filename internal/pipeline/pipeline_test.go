package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

// memSource yields n SCIM records; the ones whose index is in bad are malformed.
type memSource struct {
	n       int
	bad     map[int]bool
	failAt  int // return an error after this many records (0: never)
	emitted int
	name    func(i int) string // userName of record i; default "user<i>"
}

func (s *memSource) Name() string   { return "mem" }
func (s *memSource) Format() string { return core.FormatSCIM }
func (s *memSource) Users(ctx context.Context, emit func(core.Record) error) error {
	for i := 0; i < s.n; i++ {
		if s.failAt > 0 && i == s.failAt {
			return errors.New("connection reset")
		}
		name := "user" + strconv.Itoa(i)
		if s.name != nil {
			name = s.name(i)
		}
		data := fmt.Sprintf(`{"schemas":[%q],"userName":%q}`, schemas.CoreUserURN, name)
		if s.bad[i] {
			data = `{"userName":`
		}
		if err := emit(core.Record{Data: []byte(data), Ref: "line " + strconv.Itoa(i+1), Cursor: strconv.Itoa(i)}); err != nil {
			return err
		}
		s.emitted++
	}
	return nil
}

// memSink records what it got. outcome decides each user's result by userName.
type memSink struct {
	mu       sync.Mutex
	got      []string
	batches  []int
	bytes    []int
	limits   core.BatchLimits
	outcome  func(name string) core.Outcome
	failAt   int // fatal error on the batch that would pass this many users
	jitter   bool
	closed   bool
	aborted  bool
	inWrite  int
	maxInPar int
}

func (s *memSink) Name() string                  { return "mem" }
func (s *memSink) Format() string                { return core.FormatSCIM }
func (s *memSink) BatchLimits() core.BatchLimits { return s.limits }
func (s *memSink) Close(context.Context) error   { s.closed = true; return nil }
func (s *memSink) Abort() error                  { s.aborted = true; return nil }
func (s *memSink) Write(ctx context.Context, b []core.Item) ([]core.Result, error) {
	s.mu.Lock()
	s.inWrite++
	s.maxInPar = max(s.maxInPar, s.inWrite)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inWrite--; s.mu.Unlock() }()
	if s.jitter {
		time.Sleep(time.Duration(rand.Intn(3)) * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && len(s.got)+len(b) > s.failAt {
		return nil, errors.New("401 unauthorized")
	}
	res := make([]core.Result, len(b))
	size := 0
	for i, it := range b {
		s.got = append(s.got, it.User.UserName)
		size += len(it.Data)
		res[i].Outcome = core.Created
		if s.outcome != nil {
			res[i].Outcome = s.outcome(it.User.UserName)
		}
		if res[i].Outcome == core.Rejected {
			res[i].Reason = "DUPLICATED_USER: the user already exists"
		}
	}
	s.batches = append(s.batches, len(b))
	s.bytes = append(s.bytes, size)
	return res, nil
}

type seqSink struct{ *memSink }

func (seqSink) Sequential() {}

func config(src core.Source, sink core.Sink) Config {
	dec, _ := transform.DecoderFor(core.FormatSCIM)
	enc, _ := transform.EncoderFor(core.FormatSCIM)
	return Config{Source: src, Sink: sink, Work: &transform.Work{Decoder: dec, Encoder: enc,
		Validate: func(u *schemas.User) error { return schemas.Violations(schemas.Validate(u)).Err() }}}
}

func TestCountsAddUp(t *testing.T) {
	src := &memSource{n: 1000, bad: map[int]bool{3: true, 500: true, 999: true}}
	sink := &memSink{outcome: func(name string) core.Outcome {
		switch {
		case strings.HasSuffix(name, "7"):
			return core.Updated
		case strings.HasSuffix(name, "8"):
			return core.Unchanged
		case strings.HasSuffix(name, "9"):
			return core.Rejected
		}
		return core.Created
	}}
	var rej strings.Builder
	cfg := config(src, sink)
	cfg.Rejects = NewLog(&rej)
	cfg.Concurrency = 3
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Read: 1000, Created: 700 - 2, Updated: 100, Skipped: 100, Rejected: 3 + 99}
	want.Written = want.Created + want.Updated
	if s.Read != want.Read || s.Created != want.Created || s.Updated != want.Updated || s.Skipped != want.Skipped || s.Rejected != want.Rejected || s.Written != want.Written {
		t.Errorf("summary %+v, want %+v", s, want)
	}
	if n := strings.Count(rej.String(), "\n"); n != int(s.Rejected) {
		t.Errorf("rejects file has %d lines, want %d", n, s.Rejected)
	}
	if !strings.Contains(rej.String(), `"ref":"line 4","stage":"decode"`) || !strings.Contains(rej.String(), `"stage":"target","reason":"DUPLICATED_USER`) {
		t.Errorf("rejects lack the reasons:\n%s", rej.String()[:400])
	}
	if !sink.closed || sink.aborted {
		t.Errorf("closed=%v aborted=%v, want a committed sink", sink.closed, sink.aborted)
	}
	if s.Cursor != "999" {
		t.Errorf("cursor %q, want the last record's", s.Cursor)
	}
}

func TestSequentialSinkKeepsReadOrder(t *testing.T) {
	sink := seqSink{&memSink{limits: core.BatchLimits{MaxCount: 7}}}
	cfg := config(&memSource{n: 2000}, sink)
	cfg.Workers, cfg.Concurrency = 8, 8
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if sink.maxInPar != 1 {
		t.Errorf("sequential sink written by %d writers at once", sink.maxInPar)
	}
	for i, name := range sink.got {
		if name != "user"+strconv.Itoa(i) {
			t.Fatalf("position %d holds %s: read order lost", i, name)
		}
	}
}

// keyedSink is a target that knows users by userName.
type keyedSink struct{ *memSink }

func (keyedSink) UserKey(u *schemas.User) (string, string) { return "userName", u.UserName }

// TestOnlyKeyedSinksRefuseRepeatedKeys: a target that knows users by userName gets the
// first of two users whose names differ only in case (the first in read order, however many
// workers), the second is rejected naming the first; a sink without a key (a backup file)
// gets both.
func TestOnlyKeyedSinksRefuseRepeatedKeys(t *testing.T) {
	names := func(i int) string {
		if i%100 == 99 {
			return "USER" + strconv.Itoa(i-50) // repeats record i-50, in other case
		}
		return "user" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name     string
		sink     func(*memSink) core.Sink
		rejected int64
	}{
		{"keyed", func(m *memSink) core.Sink { return keyedSink{m} }, 10},
		{"not keyed", func(m *memSink) core.Sink { return m }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := &memSink{jitter: true}
			var rej strings.Builder
			cfg := config(&memSource{n: 1000, name: names}, tc.sink(mem))
			cfg.Rejects = NewLog(&rej)
			cfg.Workers, cfg.Concurrency = 8, 4
			s, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Rejected != tc.rejected || s.Written != 1000-tc.rejected {
				t.Fatalf("written %d, rejected %d; want %d rejected", s.Written, s.Rejected, tc.rejected)
			}
			if int64(len(mem.got)) != s.Written {
				t.Errorf("sink got %d users, summary says %d written", len(mem.got), s.Written)
			}
			if tc.rejected == 0 {
				return
			}
			for _, n := range mem.got {
				if strings.HasPrefix(n, "USER") {
					t.Errorf("the second of two users with one key reached the target: %s", n)
				}
			}
			want := `"ref":"line 100","user":"USER49","stage":"validate","reason":"userName: \"USER49\" is already used by the user at line 50`
			if !strings.Contains(rej.String(), want) {
				t.Errorf("rejects lack %s:\n%s", want, rej.String())
			}
		})
	}
}

func TestBatchLimits(t *testing.T) {
	sink := &memSink{limits: core.BatchLimits{MaxCount: 50, MaxBytes: 1000}}
	cfg := config(&memSource{n: 500}, sink)
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for i := range sink.batches {
		if sink.batches[i] > 50 || sink.bytes[i] > 1000 {
			t.Errorf("batch %d: %d users, %d bytes over the limits", i, sink.batches[i], sink.bytes[i])
		}
	}
}

func TestFatalSinkErrorAborts(t *testing.T) {
	sink := &memSink{failAt: 300}
	cfg := config(&memSource{n: 5000}, sink)
	cfg.Batch.MaxCount = 100
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "401 unauthorized") {
		t.Fatalf("err = %v, want the target's error", err)
	}
	if sink.closed || !sink.aborted {
		t.Errorf("closed=%v aborted=%v, want aborted", sink.closed, sink.aborted)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	sink := &memSink{}
	cfg := config(&memSource{n: 100, bad: map[int]bool{1: true}}, sink)
	cfg.DryRun = true
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.got) != 0 || sink.closed {
		t.Errorf("dry run reached the sink: %d users, closed=%v", len(sink.got), sink.closed)
	}
	if s.Written != 99 || s.Rejected != 1 || !s.DryRun {
		t.Errorf("summary %+v", s)
	}
}

func TestStopDrainsInFlight(t *testing.T) {
	stop := make(chan struct{})
	src := &stoppingSource{memSource: memSource{n: 100000}, stopAt: 1000, stop: stop}
	sink := &memSink{}
	cfg := config(src, sink)
	cfg.Stop = stop
	s, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, core.ErrAborted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if s.Read < 1000 || s.Read >= 100000 {
		t.Fatalf("read %d: the stop did not end reading", s.Read)
	}
	if s.Written != s.Read || int64(len(sink.got)) != s.Read {
		t.Errorf("read %d but wrote %d (sink got %d): in-flight users were dropped", s.Read, s.Written, len(sink.got))
	}
	if s.Cursor != strconv.FormatInt(s.Read-1, 10) {
		t.Errorf("cursor %q after %d records", s.Cursor, s.Read)
	}
	if !sink.aborted || !s.Discarded {
		t.Errorf("aborted=%v discarded=%v: an interrupted run must not commit the sink as complete, and must say so", sink.aborted, s.Discarded)
	}
}

type stoppingSource struct {
	memSource
	stopAt int
	stop   chan struct{}
}

func (s *stoppingSource) Users(ctx context.Context, emit func(core.Record) error) error {
	n := 0
	return s.memSource.Users(ctx, func(r core.Record) error {
		if n++; n == s.stopAt {
			close(s.stop)
		}
		return emit(r)
	})
}

func TestSourceErrorCommitsWhatWasRead(t *testing.T) {
	sink := &memSink{}
	cfg := config(&memSource{n: 1000, failAt: 400}, sink)
	s, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "source mem: connection reset") {
		t.Fatalf("err = %v", err)
	}
	if s.Read != 400 || s.Written != 400 || s.Cursor != "399" {
		t.Errorf("summary %+v: want the 400 records before the error committed", s)
	}
}

// TestCheckpointNeverSkipsAhead runs writers that finish out of order and checks that every
// checkpoint's cursor only covers records already committed.
func TestCheckpointNeverSkipsAhead(t *testing.T) {
	sink := &memSink{jitter: true}
	cfg := config(&memSource{n: 3000}, sink)
	cfg.Concurrency, cfg.Batch.MaxCount = 6, 10
	cfg.CheckpointEvery = time.Nanosecond
	calls := 0
	cfg.Checkpoint = func(cursor string, s Summary) error {
		calls++
		if cursor == "" {
			return nil
		}
		n, _ := strconv.Atoi(cursor)
		if committed := s.Written + s.Rejected + s.Skipped; int64(n+1) > committed {
			t.Errorf("checkpoint at record %d with only %d committed", n, committed)
		}
		return nil
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if calls < 10 {
		t.Errorf("only %d checkpoints", calls)
	}
}

func TestSinkLimitsWinOverDefaults(t *testing.T) {
	sink := &memSink{limits: core.BatchLimits{MaxCount: 2000}}
	cfg := config(&memSource{n: 5000}, sink)
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if largest := slices.Max(sink.batches); largest <= 500 || largest > 2000 {
		t.Errorf("largest batch %d: want the sink's 2000, not the default 500", largest)
	}
	capped := &memSink{limits: core.BatchLimits{MaxCount: 2000}}
	cfg = config(&memSource{n: 5000}, capped)
	cfg.Batch.MaxCount = 300 // --batch-size
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if largest := slices.Max(capped.batches); largest > 300 {
		t.Errorf("largest batch %d over --batch-size 300", largest)
	}
}

// TestLogsReachDiskBeforeCheckpoint: whenever the checkpoint moves, every reject line of the
// records it covers is already written out (a kill -9 right after must not lose them).
func TestLogsReachDiskBeforeCheckpoint(t *testing.T) {
	bad := map[int]bool{}
	for i := 0; i < 3000; i += 7 {
		bad[i] = true
	}
	var rej strings.Builder
	cfg := config(&memSource{n: 3000, bad: bad}, &memSink{jitter: true})
	cfg.Rejects = NewLog(&rej)
	cfg.Batch.MaxCount = 20
	cfg.CheckpointEvery = time.Nanosecond
	calls := 0
	cfg.Checkpoint = func(cursor string, s Summary) error {
		calls++
		// The counts are those of the prefix the cursor covers; lines of records past it
		// (committed out of order) may be there too.
		n, _ := strconv.Atoi(cursor)
		for i := 0; cursor != "" && i <= n; i += 7 {
			if !strings.Contains(rej.String(), `"ref":"line `+strconv.Itoa(i+1)+`"`) {
				t.Fatalf("checkpoint at record %d before the reject line of record %d is written", n, i)
			}
		}
		if lines := int64(strings.Count(rej.String(), "\n")); lines < s.Rejected {
			t.Errorf("checkpoint with %d rejected but %d reject lines written", s.Rejected, lines)
		}
		return nil
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if calls < 10 {
		t.Errorf("only %d checkpoints", calls)
	}
}
