package hubtest

import (
	"errors"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is the -update flag of every test binary that imports hubtest;
// a test package must not define its own.
var update = flag.Bool("update", false, "rewrite the golden files under testdata instead of comparing with them")

// Update reports whether the run rewrites golden files (go test -update).
func Update() bool { return *update }

var root struct {
	once sync.Once
	dir  string
	err  error
}

// Testdata returns the path of elem under the repository's testdata
// folder. The repository is the folder holding go.mod, found from the
// working directory up (go test runs a test in its package's folder).
func Testdata(elem ...string) string {
	root.once.Do(func() {
		dir, err := os.Getwd()
		for err == nil {
			if _, err = os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				root.dir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				err = errors.New("no go.mod above the working directory")
				break
			}
			dir, err = parent, nil
		}
		root.err = err
	})
	if root.err != nil {
		panic("hubtest: find the repository: " + root.err.Error())
	}
	return filepath.Join(append([]string{root.dir, "testdata"}, elem...)...)
}

// Golden compares got with the golden file at path, the whole of it, and
// reports a cmp.Diff; with -update it writes got there first.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		writeGolden(t, path, got)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// GoldenDir compares got, file name to content, with the golden files of
// dir whose names match names: every golden file must have its counterpart
// and every file of got its golden file. With -update it writes them all
// and removes the golden files that have no counterpart.
func GoldenDir(t testing.TB, dir string, names *regexp.Regexp, got map[string][]byte) {
	t.Helper()
	for name := range got {
		if !names.MatchString(name) {
			t.Fatalf("GoldenDir: %s does not match %s", name, names)
		}
	}
	des, err := os.ReadDir(dir)
	if err != nil && !(*update && errors.Is(err, fs.ErrNotExist)) {
		t.Fatal(err)
	}
	for _, de := range des {
		if _, ok := got[de.Name()]; ok || !names.MatchString(de.Name()) {
			continue
		}
		if *update {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s: golden file %s has no counterpart (run with -update)", dir, de.Name())
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		path := filepath.Join(dir, name)
		if *update {
			writeGolden(t, path, got[name])
		}
		want, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: missing golden file %s (run with -update)", dir, name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got[name])); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
		}
	}
}

func writeGolden(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
