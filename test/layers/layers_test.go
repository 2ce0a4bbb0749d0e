// Package layers holds the import rules between ferry's floors: internal/ is the ground
// floor (core types, HTTP, files, the pipeline, the emulators) and imports nothing above
// it, so a change to a mapper or a connector never reaches under it.
package layers

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ferry-dev/ferry/"

// above are the floors internal/ must not import. Test files may: the pipeline's tests run
// it with transform's real codecs.
var above = []string{"cmd", "extract", "transform", "load", "bench", "test"}

func TestInternalImportsNothingAbove(t *testing.T) {
	root := filepath.Join("..", "..", "internal")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, a := range above {
				if p == module+a || strings.HasPrefix(p, module+a+"/") {
					t.Errorf("%s imports %s: internal/ must not depend on %s/", path, p, a)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read %d files under %s: the walk did not find the tree", files, root)
	}
}
