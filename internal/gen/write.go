package gen

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// AppendFunc appends record i of some kind to dst.
type AppendFunc func(dst []byte, seed int64, i int, opt Options) []byte

// ForProvider returns the generator of a provider's export format: "auth0", "appid", "scim".
func ForProvider(name string) (AppendFunc, error) {
	switch name {
	case "auth0":
		return AppendAuth0, nil
	case "appid":
		return AppendAppID, nil
	case "scim":
		return AppendSCIM, nil
	}
	return nil, fmt.Errorf("gen: unknown provider %q (have auth0, appid, scim)", name)
}

const chunkUsers = 512

// WriteNDJSON writes records 0..n-1 made by f to w, one per line, in order. Chunks of users
// are generated on every core and written in sequence; the output is byte-identical to a
// sequential run.
func WriteNDJSON(w io.Writer, f AppendFunc, seed int64, n int, opt Options) error {
	workers := runtime.GOMAXPROCS(0)
	chunks := (n + chunkUsers - 1) / chunkUsers
	if workers > chunks {
		workers = chunks
	}
	if workers <= 1 {
		buf := make([]byte, 0, 1<<20)
		for i := 0; i < n; i++ {
			buf = f(buf, seed, i, opt)
			buf = append(buf, '\n')
			if len(buf) >= 1<<20 || i == n-1 {
				if _, err := w.Write(buf); err != nil {
					return fmt.Errorf("gen: write: %w", err)
				}
				buf = buf[:0]
			}
		}
		return nil
	}
	// Each chunk has its own result slot. The window bounds how far workers run ahead of
	// the writer, so memory stays flat whatever n is. After a write error, workers skip the
	// work but still deliver every chunk, so nothing blocks.
	slots := make([]chan *[]byte, chunks)
	for k := range slots {
		slots[k] = make(chan *[]byte, 1)
	}
	window := make(chan struct{}, 2*workers)
	next := make(chan int)
	var stopped atomic.Bool
	pool := sync.Pool{New: func() any { b := make([]byte, 0, chunkUsers*1600); return &b }}
	go func() {
		defer close(next)
		for c := 0; c < chunks; c++ {
			window <- struct{}{}
			next <- c
		}
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for c := range next {
				bp := pool.Get().(*[]byte)
				buf := (*bp)[:0]
				if !stopped.Load() {
					end := min((c+1)*chunkUsers, n)
					for i := c * chunkUsers; i < end; i++ {
						buf = f(buf, seed, i, opt)
						buf = append(buf, '\n')
					}
				}
				*bp = buf
				slots[c] <- bp // the writer returns it to the pool once written
			}
		}()
	}
	var err error
	for c := 0; c < chunks; c++ {
		bp := <-slots[c]
		if err == nil {
			if _, werr := w.Write(*bp); werr != nil {
				err = fmt.Errorf("gen: write: %w", werr)
				stopped.Store(true)
			}
		}
		pool.Put(bp)
		<-window
	}
	return err
}
