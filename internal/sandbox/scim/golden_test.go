package scim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	stdjson "encoding/json"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/sandbox/scim")

// TestGoldenDiscovery pins the discovery documents clients read their limits from.
func TestGoldenDiscovery(t *testing.T) {
	h := newHarness(t, Config{})
	for _, path := range []string{"/ServiceProviderConfig", "/ResourceTypes"} {
		raw := h.do("GET", path, nil).must(t, 200).raw
		raw = bytes.ReplaceAll(raw, []byte(h.url), []byte("{base}"))
		var buf bytes.Buffer
		if err := stdjson.Indent(&buf, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
		file := filepath.Join("..", "..", "..", "fixtures", "sandbox", "scim", strings.ToLower(strings.TrimPrefix(path, "/"))+".json")
		if *update {
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(want, buf.Bytes()) {
			t.Errorf("%s differs from %s:\n%s", path, file, buf.Bytes())
		}
	}
}
