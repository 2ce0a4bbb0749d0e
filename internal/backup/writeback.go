package backup

import "os"

// writebackChunk is how much written data waits before its write-out is started.
const writebackChunk = 16 << 20

// writeback passes writes to a file and starts the kernel's write-out of each chunk as it
// completes, without waiting for it. Otherwise the kernel keeps the whole file dirty in
// memory until Commit's fsync, which then writes all of it while the run waits.
// Durability is unchanged: Commit still fsyncs before the rename.
type writeback struct {
	f       *os.File
	fd      uintptr
	written int64
	started int64
}

func newWriteback(f *os.File) *writeback { return &writeback{f: f, fd: f.Fd()} }

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackChunk {
		startWriteback(w.fd, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}
