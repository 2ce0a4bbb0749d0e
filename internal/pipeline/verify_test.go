package pipeline

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
)

// verifySink refuses every user whose number is in have as existing, and reads back
// what the target holds for it: the same data for the names in same, other data for the
// rest of have.
type verifySink struct {
	*memSink
	have, same map[string]bool
	asked      int
}

var _ core.Verifier = (*verifySink)(nil)

func (s *verifySink) Write(ctx context.Context, b []core.Item) ([]core.Result, error) {
	res, err := s.memSink.Write(ctx, b)
	for i, it := range b {
		if s.have[it.User.UserName] {
			res[i] = core.Result{Outcome: core.Rejected, Reason: "409 uniqueness: userName taken", Exists: true}
		}
	}
	return res, err
}

func (s *verifySink) Verify(_ context.Context, items []core.Item) ([]core.Verdict, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]core.Verdict, len(items))
	for i, it := range items {
		s.asked++
		n := it.User.UserName
		out[i] = core.Verdict{Found: true, Same: s.same[n], TargetID: "t-" + n}
		if !s.same[n] {
			out[i].Diff = "name.givenName"
		}
	}
	return out, nil
}

// TestVerifiedConflicts: a user the target already holds as ferry would write it is no
// conflict: created when an earlier run of the migration sent it (in doubt), unchanged
// otherwise; one with other data stays rejected, naming the target's user; a sink that
// cannot verify keeps every refusal.
func TestVerifiedConflicts(t *testing.T) {
	have := map[string]bool{}
	same := map[string]bool{}
	for i := 0; i < 100; i += 10 {
		have["user"+strconv.Itoa(i)] = true
		if i < 70 {
			same["user"+strconv.Itoa(i)] = true // 7 the same, 3 different
		}
	}
	inDoubt := func(it core.Item) bool { return it.Ref == "line 1" || it.Ref == "line 11" || it.Ref == "line 81" }
	for _, tc := range []struct {
		name                       string
		sink                       func() core.Sink
		created, skipped, rejected int64
	}{
		{"verifier", func() core.Sink { return &verifySink{memSink: &memSink{}, have: have, same: same} }, 90 + 2, 5, 3},
		{"no verifier", func() core.Sink { return &refuseSink{&verifySink{memSink: &memSink{}, have: have, same: same}} }, 90, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rej strings.Builder
			cfg := config(&memSource{n: 100}, tc.sink())
			cfg.Rejects = NewLog(&rej)
			cfg.InDoubt = inDoubt
			s, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Created != tc.created || s.Skipped != tc.skipped || s.Rejected != tc.rejected || s.Read != 100 {
				t.Errorf("summary %+v, want created %d, skipped %d, rejected %d", s, tc.created, tc.skipped, tc.rejected)
			}
			if tc.name == "verifier" {
				for _, want := range []string{`"ref":"line 71"`, "t-user70", "name.givenName", "not written by this migration", "changed in the target since"} {
					if !strings.Contains(rej.String(), want) {
						t.Errorf("rejects lack %q:\n%s", want, rej.String())
					}
				}
				if strings.Contains(rej.String(), `"ref":"line 1"`) {
					t.Errorf("a verified user is in the rejects:\n%s", rej.String())
				}
			}
		})
	}
}

// refuseSink hides the Verifier.
type refuseSink struct{ v *verifySink }

func (s *refuseSink) Name() string   { return s.v.Name() }
func (s *refuseSink) Format() string { return s.v.Format() }
func (s *refuseSink) Write(ctx context.Context, b []core.Item) ([]core.Result, error) {
	return s.v.Write(ctx, b)
}
func (s *refuseSink) Close(ctx context.Context) error { return s.v.Close(ctx) }

// TestJournalEveryBatch: the journal hears of every sink batch that moves the committed
// prefix, and what it is told covers exactly the records up to its cursor, however the
// writers finish out of order; every user goes through Sent before the sink sees it.
func TestJournalEveryBatch(t *testing.T) {
	sink := &memSink{jitter: true}
	cfg := config(&memSource{n: 3000, bad: map[int]bool{5: true, 1500: true}}, sink)
	cfg.Concurrency, cfg.Batch.MaxCount = 6, 10
	calls := 0
	var last int64
	sent := map[int64]bool{}
	var mu = &sink.mu
	cfg.Sent = func(items []core.Item) error {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			sent[it.Seq] = true
		}
		return nil
	}
	cfg.Journal = func(cursor string, next int64, s Summary) error {
		calls++
		n, _ := strconv.Atoi(cursor)
		if int64(n+1) != next || s.Read != next || s.Written+s.Rejected+s.Skipped != next {
			t.Errorf("journal at cursor %q, next %d, summary %+v: the counts must be those of the prefix", cursor, next, s)
		}
		if next < last {
			t.Errorf("journal went back from %d to %d", last, next)
		}
		last = next
		return nil
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if last != 3000 {
		t.Errorf("last journal line at %d, want 3000", last)
	}
	// 300 batches; several may commit between two journal lines, but not most of them.
	if calls < 30 {
		t.Errorf("only %d journal lines for 300 batches", calls)
	}
	if len(sent) != 2998 {
		t.Errorf("%d users announced as sent, want 2998", len(sent))
	}
}
