package fileio

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestGzipBombStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.ndjson.gz")
	f, _ := os.Create(path)
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	defer func(m int64) { bombMinBytes = m }(bombMinBytes)
	bombMinBytes = 8 << 20 // the production 256 MiB is slow under -race
	zeros := make([]byte, 1<<20)
	for range 40 { // 40 MiB of zeros compress to about 40 KiB
		zw.Write(zeros)
	}
	zw.Close()
	f.Close()
	r, err := Open(path, Options{MaxRecord: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrBomb) {
		t.Fatalf("err = %v, want ErrBomb", err)
	}
}

func TestContainerAndSniffing(t *testing.T) {
	tests := []struct {
		name, content string
		want          int
	}{
		{"a.json", `[{"a":1},{"a":2}]`, 2},
		{"a.json", `{"users":[{"a":1}]}`, 1},
		{"a.ndjson", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 3},
		{"noext", " [ {}, {} ]", 2},
		{"noext", "{}\n{}\n", 2},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), tt.name)
		os.WriteFile(path, []byte(tt.content), 0o600)
		for _, gz := range []bool{false, true} {
			p := path
			if gz {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				io.WriteString(zw, tt.content)
				zw.Close()
				p = path + ".gz"
				os.WriteFile(p, b.Bytes(), 0o600)
			}
			r, err := Open(p, Options{Keys: []string{"users"}})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				if _, err := r.Next(); err != nil {
					if err != io.EOF {
						t.Errorf("%s: %v", p, err)
					}
					break
				}
				n++
			}
			r.Close()
			if n != tt.want {
				t.Errorf("%s (%q): %d records, want %d", p, tt.content, n, tt.want)
			}
		}
	}
}
