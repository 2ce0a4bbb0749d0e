package backup

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWritebackPassesEveryByte: writes of odd sizes across several write-out chunks reach
// the file whole and in order, and write-out was started for all but the last chunk.
func TestWritebackPassesEveryByte(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newWriteback(f)
	var want bytes.Buffer
	for i := 0; want.Len() < 2*writebackChunk+12345; i++ {
		p := bytes.Repeat([]byte{byte(i)}, 1+(i*7919)%100000)
		if n, err := w.Write(p); err != nil || n != len(p) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
		want.Write(p)
	}
	if w.started == 0 || w.written-w.started >= writebackChunk || w.started > w.written {
		t.Errorf("write-out started for %d of %d bytes, want all but the last partial chunk", w.started, w.written)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file holds %d bytes, not the %d written", len(got), want.Len())
	}
}
