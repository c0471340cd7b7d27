package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CorpusFile is the content of one seed file in the format go test reads
// from testdata/fuzz/<FuzzName>/: each value a Go literal such as
// string("x") or []byte("x").
func CorpusFile(values ...string) string {
	return "go test fuzz v1\n" + strings.Join(values, "\n") + "\n"
}

// WriteCorpus writes the seed files of one fuzz target into
// testdata/fuzz/<target> below the current folder (go generate runs in the
// package's folder), keyed by file name, each name starting "seed-". Seed
// files no longer listed are removed; any other file there (a crasher a
// fuzzer found) stays.
func WriteCorpus(target string, files map[string]string) error {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write corpus: %w", err)
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("write corpus: %w", err)
	}
	for _, de := range old {
		if _, ok := files[de.Name()]; !ok && strings.HasPrefix(de.Name(), "seed-") {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				return fmt.Errorf("write corpus: %w", err)
			}
		}
	}
	for name, content := range files {
		if !strings.HasPrefix(name, "seed-") {
			return fmt.Errorf("write corpus: seed file %q must start with seed-", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write corpus: %w", err)
		}
	}
	return nil
}
