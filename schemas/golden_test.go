package schemas

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/segmentio/encoding/json"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var fixtures = filepath.Join("..", "fixtures", "schemas")

// TestGoldenViolations runs both validators over bad_users.ndjson so that the messages a
// user will read in a rejects file are reviewed as text. go test -run Golden -update
// rewrites violations.golden.
func TestGoldenViolations(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(fixtures, "bad_users.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(in))
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		fmt.Fprintf(&out, "line %d\n", n)
		writeViolations(&out, "ValidateJSON", ValidateJSON(line))
		// The way transform's SCIM decoder reads a record.
		u := new(User)
		if _, err := json.Parse(line, u, json.DisallowUnknownFields); err != nil {
			fmt.Fprintf(&out, "  Validate: not run, the record does not decode\n")
		} else {
			writeViolations(&out, "Validate", Validate(u))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(fixtures, "violations.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("violations differ from %s (review, then go test -run Golden -update):\n%s", golden, out.Bytes())
	}
}

func writeViolations(out *bytes.Buffer, name string, vs []Violation) {
	if len(vs) == 0 {
		fmt.Fprintf(out, "  %s: valid\n", name)
		return
	}
	fmt.Fprintf(out, "  %s:\n", name)
	for _, v := range vs {
		fmt.Fprintf(out, "    %s\n", v)
	}
}
