package checkpoint_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

// BenchmarkCheckpoint runs the pipeline over 20,000 users into a sink that takes them at
// once, keeping the resume state the three ways: the old 2 s timer (an atomic state file
// write each time it fires), a journal line per committed batch (fsync'd, and a "sent"
// line before each batch, as migrate --resume does now), and an atomic state file write
// per batch. A real target takes milliseconds a batch; this sink takes none, so the
// figures are the checkpoint's own cost at its worst.
//
//	go test -run - -bench Checkpoint -benchtime 5x -count 3 ./internal/checkpoint/
func BenchmarkCheckpoint(b *testing.B) {
	const users = 20_000
	for _, batch := range []int{100, 500} {
		for _, mode := range []string{"timer-2s", "journal-per-batch", "state-per-batch"} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, mode), func(b *testing.B) {
				var syncs int
				for b.Loop() {
					dir := b.TempDir()
					state := filepath.Join(dir, "state.json")
					cfg := benchConfig(users, batch)
					save := func(cursor string, s pipeline.Summary) error {
						syncs++
						return checkpoint.Save(state, &checkpoint.State{From: "a", To: "b", Cursor: cursor, Read: s.Read, Written: s.Written})
					}
					switch mode {
					case "timer-2s":
						cfg.Checkpoint, cfg.CheckpointEvery = save, 2*time.Second
					case "state-per-batch":
						cfg.Checkpoint, cfg.CheckpointEvery = save, time.Nanosecond
					case "journal-per-batch":
						j, err := checkpoint.OpenJournal(checkpoint.JournalPath(state), &checkpoint.Replay{}, nil)
						if err != nil {
							b.Fatal(err)
						}
						cfg.Checkpoint, cfg.CheckpointEvery = save, 2*time.Second
						cfg.Sent = func(items []core.Item) error {
							seqs, marks := make([]int64, len(items)), make([]uint64, len(items))
							for i := range items {
								seqs[i], marks[i] = items[i].Seq, checkpoint.Mark(items[i].Ref)
							}
							return j.Sent(seqs, marks)
						}
						cfg.Journal = func(cursor string, next int64, s pipeline.Summary) error {
							syncs++
							return j.Commit(&checkpoint.State{From: "a", To: "b", Cursor: cursor, Read: s.Read, Written: s.Written}, next)
						}
						defer j.Close()
					}
					if s, err := pipeline.Run(context.Background(), cfg); err != nil || s.Written != users {
						b.Fatalf("%+v %v", s, err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*users), "ns/user")
				b.ReportMetric(float64(syncs)/float64(b.N), "syncs/run")
			})
		}
	}
}

func benchConfig(n, batch int) pipeline.Config {
	dec, _ := transform.DecoderFor(core.FormatSCIM)
	enc, _ := transform.EncoderFor(core.FormatSCIM)
	return pipeline.Config{Source: &benchSource{n: n}, Sink: benchSink{}, Work: &transform.Work{Decoder: dec, Encoder: enc},
		Batch: core.BatchLimits{MaxCount: batch}}
}

type benchSource struct{ n int }

func (s *benchSource) Name() string   { return "bench" }
func (s *benchSource) Format() string { return core.FormatSCIM }
func (s *benchSource) Users(ctx context.Context, emit func(core.Record) error) error {
	for i := range s.n {
		data := `{"schemas":["` + schemas.CoreUserURN + `"],"userName":"user` + strconv.Itoa(i) + `@example.com","name":{"givenName":"Given","familyName":"Family"}}`
		if err := emit(core.Record{Data: []byte(data), Ref: "line " + strconv.Itoa(i+1), Cursor: strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return nil
}

type benchSink struct{}

func (benchSink) Name() string                { return "bench" }
func (benchSink) Format() string              { return core.FormatSCIM }
func (benchSink) Close(context.Context) error { return nil }
func (benchSink) Write(_ context.Context, b []core.Item) ([]core.Result, error) {
	res := make([]core.Result, len(b))
	for i := range res {
		res[i].Outcome = core.Created
	}
	return res, nil
}
