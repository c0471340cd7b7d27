//go:build unix

package mesh_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

// envKilledWrite names the folder a child process of
// TestWriteFilesAtomicKilled writes its message into.
const envKilledWrite = "CPIS_TEST_KILLED_WRITE_DIR"

// A process killed right after each durable step of WriteFilesAtomic (the
// kill tests' fault hook, one per SyncDir) leaves the data file whole
// without its control file after the first step, and both after the
// second, the last: the control file never appears before its data file
// is durable, and every step is a crash point of its own.
func TestWriteFilesAtomicKilled(t *testing.T) {
	const data, ctl = "9990000018,synthetic\r\n", "<DTSControl/>"
	if dir := os.Getenv(envKilledWrite); dir != "" {
		err := mesh.WriteFilesAtomic(dir, 0o640,
			mesh.FileWrite{Name: "r.csv", Write: func(w io.Writer) error { _, err := io.WriteString(w, data); return err }},
			mesh.FileWrite{Name: "r.ctl", Write: func(w io.Writer) error { _, err := io.WriteString(w, ctl); return err }})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	for _, tc := range []struct {
		kill   int // the SyncDir after which the child kills itself
		killed bool
		want   map[string]string // the folder afterwards: name -> content
	}{
		// The control file's temp file is left, whole: the write that
		// recovery makes again takes it over.
		{1, true, map[string]string{"r.csv": data, ".r.ctl.tmp": ctl}},
		{2, true, map[string]string{"r.csv": data, "r.ctl": ctl}},
		{3, false, map[string]string{"r.csv": data, "r.ctl": ctl}},
	} {
		t.Run(fmt.Sprintf("kill after SyncDir %d", tc.kill), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFilesAtomicKilled$")
			cmd.Env = append(os.Environ(), envKilledWrite+"="+dir, fmt.Sprintf("%s=%d", mesh.EnvFaultKillSync, tc.kill))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			switch killed := errors.As(err, &ee) && ee.ExitCode() == -1; {
			case tc.killed && !killed:
				t.Fatalf("child not killed after SyncDir %d: %v\n%s", tc.kill, err, out)
			case !tc.killed && err != nil:
				t.Fatalf("child: %v\n%s", err, out)
			}
			if diff := cmp.Diff(tc.want, dirContents(t, dir)); diff != "" {
				t.Errorf("folder (-want +got):\n%s", diff)
			}
		})
	}
}
