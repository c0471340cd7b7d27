package mesh_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// dirContents returns the files of dir by name, with their contents.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, name := range dirNames(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got[name] = string(b)
	}
	return got
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("data\r\n"), 50000) // larger than the buffer
	err := mesh.WriteFileAtomic(dir, "out.csv", func(w io.Writer) error {
		_, err := w.Write(content)
		return err
	}, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("file holds %d bytes, want %d", len(got), len(content))
	}
	info, _ := os.Stat(filepath.Join(dir, "out.csv"))
	if perm := info.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("perm = %v, want at most 0640", perm)
	}
	if diff := cmp.Diff([]string{"out.csv"}, dirNames(t, dir)); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
	}
}

func TestWriteFileAtomicFailure(t *testing.T) {
	errWrite := errors.New("reader broke")
	big := bytes.Repeat([]byte("z"), 200<<10) // flushed to the temp file before the failure
	tests := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"fails at once", func(io.Writer) error { return errWrite }},
		{"fails after writing", func(w io.Writer) error {
			if _, err := w.Write(big); err != nil {
				return err
			}
			return errWrite
		}},
		{"copy from failing reader", func(w io.Writer) error {
			_, err := io.Copy(w, io.MultiReader(bytes.NewReader(big), errReader{errWrite}))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := mesh.WriteFileAtomic(dir, "out.csv", tt.write, 0o640)
			if !errors.Is(err, errWrite) {
				t.Fatalf("err = %v, want the writer's error", err)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("folder holds %v, want nothing", names)
			}
		})
	}

	t.Run("keeps the old file", func(t *testing.T) {
		dir := t.TempDir()
		old := filepath.Join(dir, "out.csv")
		if err := os.WriteFile(old, []byte("old"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := mesh.WriteFileAtomic(dir, "out.csv", func(w io.Writer) error {
			w.Write(big)
			return errWrite
		}, 0o640); err == nil {
			t.Fatal("no error")
		}
		got, _ := os.ReadFile(old)
		if string(got) != "old" {
			t.Errorf("old file now holds %d bytes", len(got))
		}
		if diff := cmp.Diff([]string{"out.csv"}, dirNames(t, dir)); diff != "" {
			t.Errorf("folder (-want +got):\n%s", diff)
		}
	})

	t.Run("panic", func(t *testing.T) {
		dir := t.TempDir()
		func() {
			defer func() { recover() }()
			mesh.WriteFileAtomic(dir, "out.csv", func(w io.Writer) error {
				w.Write(big)
				panic("boom")
			}, 0o640)
		}()
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("folder holds %v, want nothing", names)
		}
	})

	t.Run("missing folder", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "gone")
		if err := mesh.WriteFileAtomic(dir, "out.csv", func(io.Writer) error { return nil }, 0o640); err == nil {
			t.Error("no error")
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestWriteFileAtomicRefusesPaths(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", ".", "..", "../x", "a/b", "x\x00"} {
		called := false
		err := mesh.WriteFileAtomic(dir, name, func(io.Writer) error { called = true; return nil }, 0o640)
		if err == nil || called {
			t.Errorf("WriteFileAtomic(%q): err %v, write called %v", name, err, called)
		}
	}
}

// A data file and its control file are written together: both whole, or
// (a writer failing, or a panic in one) nothing new at all, no temp file
// left, and an old data file of the same name kept.
func TestWriteFilesAtomic(t *testing.T) {
	errWrite := errors.New("reader broke")
	data := func(w io.Writer) error { _, err := io.WriteString(w, "9990000018,synthetic\r\n"); return err }
	ctl := func(w io.Writer) error { _, err := io.WriteString(w, "<DTSControl/>"); return err }
	fails := func(w io.Writer) error { w.Write(bytes.Repeat([]byte("z"), 200<<10)); return errWrite }
	panics := func(io.Writer) error { panic("boom") }
	for _, tc := range []struct {
		name      string
		data, ctl func(io.Writer) error
		want      map[string]string // the folder afterwards: name -> content
		wantErr   bool
	}{
		{"both written", data, ctl, map[string]string{"r.csv": "9990000018,synthetic\r\n", "r.ctl": "<DTSControl/>"}, false},
		{"data fails", fails, ctl, map[string]string{"r.csv": "old"}, true},
		{"control fails", data, fails, map[string]string{"r.csv": "old"}, true},
		{"control panics", data, panics, map[string]string{"r.csv": "old"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.wantErr {
				if err := os.WriteFile(filepath.Join(dir, "r.csv"), []byte("old"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = errors.New("panicked")
					}
				}()
				err = mesh.WriteFilesAtomic(dir, 0o640, mesh.FileWrite{Name: "r.csv", Write: tc.data}, mesh.FileWrite{Name: "r.ctl", Write: tc.ctl})
			}()
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, dirContents(t, dir)); diff != "" {
				t.Errorf("folder (-want +got):\n%s", diff)
			}
		})
	}
}

// A control file that cannot take its name (a folder holds it) fails the
// write after the data file is in place: the data file stays, whole and
// new, no temp file is left, and the error names the control file.
func TestWriteFilesAtomicFailsAfterFirstRename(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.csv"), []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "r.ctl"), 0o750); err != nil {
		t.Fatal(err)
	}
	err := mesh.WriteFilesAtomic(dir, 0o640,
		mesh.FileWrite{Name: "r.csv", Write: func(w io.Writer) error { _, err := io.WriteString(w, "9990000018,synthetic\r\n"); return err }},
		mesh.FileWrite{Name: "r.ctl", Write: func(w io.Writer) error { _, err := io.WriteString(w, "<DTSControl/>"); return err }})
	if err == nil || !strings.Contains(err.Error(), "r.ctl") {
		t.Errorf("err = %v, want an error naming r.ctl", err)
	}
	if diff := cmp.Diff([]string{"r.csv", "r.ctl"}, dirNames(t, dir)); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "r.csv")); err != nil || string(b) != "9990000018,synthetic\r\n" {
		t.Errorf("r.csv = %q, %v; want the new data file", b, err)
	}
}

// TestWriteBuffered: each write reaches only its own writer, whole, and
// what a failed write left in the reused buffer never reaches the next.
func TestWriteBuffered(t *testing.T) {
	long := strings.Repeat("x", 100_000) // more than the buffer holds
	failed := errors.New("failed")
	cases := []struct {
		name    string
		write   string
		err     error
		want    string // reaches the writer
		wantErr error
	}{
		{"short", "a,b\r\n", nil, "a,b\r\n", nil},
		{"failed after a short write", "half a ro", failed, "", failed},
		{"short after a failure", "c,d\r\n", nil, "c,d\r\n", nil},
		{"longer than the buffer", long, nil, long, nil},
		{"empty", "", nil, "", nil},
	}
	for _, c := range cases {
		var got bytes.Buffer
		err := mesh.WriteBuffered(&got, func(w io.Writer) error {
			if _, err := io.WriteString(w, c.write); err != nil {
				return err
			}
			return c.err
		})
		if !errors.Is(err, c.wantErr) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.wantErr)
		}
		// A failed write may have flushed what overflowed the buffer, but
		// none of these did.
		if got.String() != c.want {
			t.Errorf("%s: the writer got %d bytes %.20q, want %d bytes %.20q", c.name, got.Len(), got.String(), len(c.want), c.want)
		}
	}
}
