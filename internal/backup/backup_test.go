package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/fileio"
)

func writeFile(t *testing.T, path string, recs ...string) {
	t.Helper()
	w, err := Create(path, Manifest{Source: "file:in.ndjson", Format: "scim"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WriteRecord([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAndVerify(t *testing.T) {
	for _, name := range []string{"b.ndjson", "b.ndjson.gz", "b.json", "b.json.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			writeFile(t, path, `{"userName":"a"}`, `{"userName":"b"}`, `{"userName":"c"}`)
			for _, p := range []string{path, ManifestPath(path)} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
				}
			}
			rep, err := Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Users != 3 || rep.Manifest.Users != 3 || rep.Manifest.Compressed != strings.HasSuffix(name, ".gz") {
				t.Errorf("report %+v", rep)
			}
			// The records read back are the records written, whichever container.
			r, err := fileio.Open(path, fileio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []string
			for {
				rec, err := r.Next()
				if err != nil {
					break
				}
				got = append(got, string(rec.Data))
			}
			if strings.Join(got, ",") != `{"userName":"a"},{"userName":"b"},{"userName":"c"}` {
				t.Errorf("read back %q", got)
			}
		})
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		tamper func(path string)
		want   error
	}{
		{"byte flipped", func(p string) {
			b, _ := os.ReadFile(p)
			b[3] ^= 1
			os.WriteFile(p, b, 0o600)
		}, ErrChecksum},
		{"record removed, manifest re-hashed", func(p string) {
			b, _ := os.ReadFile(p)
			lines := strings.SplitAfter(string(b), "\n")
			os.WriteFile(p, []byte(strings.Join(lines[1:], "")), 0o600)
			m, _ := ReadManifest(ManifestPath(p))
			rep, _ := Verify(p)
			m.SHA256, m.Bytes = rep.SHA256, rep.Bytes
			WriteManifest(ManifestPath(p), m)
		}, ErrCount},
		{"truncated gzip", func(p string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o600)
		}, ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".ndjson")
			if tt.name == "truncated gzip" {
				path += ".gz"
			}
			writeFile(t, path, `{"userName":"a"}`, `{"userName":"b"}`)
			tt.tamper(path)
			rep, err := Verify(path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if len(rep.Problems) == 0 {
				t.Error("no problem listed")
			}
		})
	}
}

func TestTruncatedGzipIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.ndjson.gz")
	recs := make([]string, 2000)
	for i := range recs {
		recs[i] = `{"userName":"user` + strings.Repeat("x", i%50) + `"}`
	}
	writeFile(t, path, recs...)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-30], 0o600)
	r, err := fileio.Open(path, fileio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
		n++
	}
	if !errors.Is(err, fileio.ErrTruncated) {
		t.Fatalf("after %d records: err = %v, want ErrTruncated", n, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.ndjson")
	w, err := Create(path, Manifest{})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteRecord([]byte(`{}`))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("abort left %v", entries)
	}
}

func TestManifestVersionRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(p, []byte(`{"format_version":99}`), 0o600)
	if _, err := ReadManifest(p); err == nil || !strings.Contains(err.Error(), "format version 99") {
		t.Errorf("err = %v", err)
	}
}
