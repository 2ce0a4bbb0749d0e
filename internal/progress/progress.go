// Package progress shows a run's counters: a cheggaaa/pb bar on a terminal, otherwise one
// plain line every few seconds (pb writes frames without newlines, which garbles logs).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cheggaaa/pb/v3"
	"golang.org/x/term"
)

// Counters is what progress reads; pipeline.Stats satisfies it through Func.
type Counters func() (read, written, rejected, skipped int64)

// Options choose the display.
type Options struct {
	Label    string
	Total    int64 // 0: unknown
	Disabled bool  // --no-progress
	Out      *os.File
	Every    time.Duration // plain-line interval; default 5 s
}

// Start shows progress until the returned stop is called; stop prints a last line.
func Start(c Counters, opt Options) (stop func()) {
	if opt.Disabled {
		return func() {}
	}
	if opt.Out == nil {
		opt.Out = os.Stderr
	}
	if opt.Every <= 0 {
		opt.Every = 5 * time.Second
	}
	if term.IsTerminal(int(opt.Out.Fd())) {
		return startBar(c, opt)
	}
	return startPlain(c, opt, opt.Out)
}

const barTmpl = `{{string . "label"}} {{counters . }} {{bar . }} {{percent . }} {{speed . "%s users/s"}} {{rtime . "ETA %s"}} {{string . "detail"}}`
const spinTmpl = `{{string . "label"}} {{counters . }} {{speed . "%s users/s"}} {{string . "detail"}}`

func startBar(c Counters, opt Options) func() {
	tmpl := spinTmpl
	if opt.Total > 0 {
		tmpl = barTmpl
	}
	bar := pb.New64(opt.Total).SetTemplateString(tmpl).SetWriter(opt.Out).SetRefreshRate(200 * time.Millisecond)
	bar.Set("label", opt.Label)
	bar.Start()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	update := func() {
		read, w, r, s := c()
		bar.SetCurrent(w + r + s)
		bar.Set("detail", fmt.Sprintf("read %d · written %d · rejected %d · skipped %d", read, w, r, s))
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				update()
			case <-done:
				update()
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		bar.Finish()
	}
}

func startPlain(c Counters, opt Options, w io.Writer) func() {
	start := time.Now()
	line := func() {
		read, wr, rj, sk := c()
		el := time.Since(start)
		rate := float64(wr+rj+sk) / el.Seconds()
		eta := ""
		if opt.Total > 0 && rate > 0 {
			left := float64(opt.Total-(wr+rj+sk)) / rate
			eta = fmt.Sprintf(" eta %s", (time.Duration(left) * time.Second).Round(time.Second))
			eta = fmt.Sprintf(" of %d%s", opt.Total, eta)
		}
		fmt.Fprintf(w, "%s: read %d written %d rejected %d skipped %d%s (%.0f users/s, %s)\n",
			opt.Label, read, wr, rj, sk, eta, rate, el.Round(time.Second))
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(opt.Every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				line()
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
