package testenv_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh/testenv"
)

// TestWriteCorpus: listed seeds are written, seeds no longer listed are
// removed, a crasher the fuzzer found stays.
func TestWriteCorpus(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := filepath.Join("testdata", "fuzz", "FuzzX")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"seed-old": "x", "0123abcd": "crasher"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := testenv.WriteCorpus("FuzzX", map[string]string{
		"seed-01": testenv.CorpusFile(`string("a")`),
		"seed-02": testenv.CorpusFile(`[]byte("b")`, "bool(true)"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		b, _ := os.ReadFile(filepath.Join(dir, de.Name()))
		got[de.Name()] = string(b)
	}
	want := map[string]string{
		"0123abcd": "crasher",
		"seed-01":  "go test fuzz v1\nstring(\"a\")\n",
		"seed-02":  "go test fuzz v1\n[]byte(\"b\")\nbool(true)\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("corpus (-want +got):\n%s", diff)
	}
	if err := testenv.WriteCorpus("FuzzX", map[string]string{"crash": "x"}); err == nil {
		t.Error("a seed file not named seed-* was written")
	}
}
