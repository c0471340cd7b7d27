package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

func TestCLIBackup(t *testing.T) {
	h := checkHub(t)
	file := filepath.Join(t.TempDir(), "cpis-2026-11-22.db")
	r := h.run("backup", file)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatalf("backup wrote nothing: %v\n%+v", err, r)
	}
	want := cliResult{code: exitOK, stdout: fmt.Sprintf("Backed up cpis.db in %s to %s (%d bytes).\n", h.data, file, st.Size())}
	if diff := cmp.Diff(want, r, cmp.AllowUnexported(cliResult{})); diff != "" {
		t.Errorf("backup (-want +got):\n%s", diff)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600 (it holds personal data)", st.Mode().Perm())
	}

	// The copy is a whole store: checked in a folder of its own, then put
	// in place of a lost store, it holds the same plans.
	restored := checkHub(t)
	checkDir := t.TempDir()
	copyFile(t, file, filepath.Join(checkDir, store.FileName))
	r = cliRun(t, "--data", checkDir, "check")
	want = cliResult{code: exitOK, stdout: "cpis.db in " + checkDir + ": no problems (153 authorities, 2 plans, 1 message, 1 row outcome).\n"}
	if diff := cmp.Diff(want, r, cmp.AllowUnexported(cliResult{})); diff != "" {
		t.Errorf("check of the backup (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(restored.data, store.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(checkDir, store.FileName), filepath.Join(restored.data, store.FileName)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h.plansExport(), restored.plansExport()); diff != "" {
		t.Errorf("plans of the restored store (-original +restored):\n%s", diff)
	}

	// An existing file is kept unless --force.
	before := dataTree(t, filepath.Dir(file))
	r = h.run("backup", file)
	want = cliResult{code: exitFailure, stderr: "cpis: " + file + " already exists: give --force to replace it\n"}
	if diff := cmp.Diff(want, r, cmp.AllowUnexported(cliResult{})); diff != "" {
		t.Errorf("backup over an existing file (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, dataTree(t, filepath.Dir(file))); diff != "" {
		t.Errorf("the refused backup changed the folder (-before +after):\n%s", diff)
	}
	h.send("202", "CPIS_202_FULL_20261121.csv", crlf("nhs_number,plan_type,start_date,local_id", "9990276579,LAC,2026-03-02,L-9"))
	h.ingestJSON()
	r = h.run("backup", "--force", file)
	if r.code != exitOK || r.stderr != "" {
		t.Errorf("backup --force: %+v", r)
	}
	checkDir = t.TempDir()
	copyFile(t, file, filepath.Join(checkDir, store.FileName))
	if out := cliRun(t, "--data", checkDir, "check").stdout; out != "cpis.db in "+checkDir+": no problems (153 authorities, 3 plans, 2 messages, 1 row outcome).\n" {
		t.Errorf("check of the replaced backup: %q", out)
	}

	// Never onto the store itself.
	storeFile := filepath.Join(h.data, store.FileName)
	before = dataTree(t, h.data)
	r = h.run("backup", "--force", storeFile)
	want = cliResult{code: exitFailure, stderr: "cpis: backup " + storeFile + ": that is the store file itself\n"}
	if diff := cmp.Diff(want, r, cmp.AllowUnexported(cliResult{})); diff != "" {
		t.Errorf("backup onto the store (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, dataTree(t, h.data)); diff != "" {
		t.Errorf("the data dir changed (-before +after):\n%s", diff)
	}

	if r := h.run("backup"); r.code != exitUsage {
		t.Errorf("backup without FILE: exit %d, want 2", r.code)
	}
}

// While the daemon runs and commands write through it, check and backup
// run inside it; each backup is a whole store; the restore procedure of
// the README works.
func TestCLICheckAndBackupWithDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := cpisBinary(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	d := &daemon{bin: bin, data: data}
	authorities, _ := filepath.Abs(cliAuthorities)
	if _, stderr, code := d.run(t, tmp, "init", "--authorities", authorities); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	d = startDaemon(t, bin, data, "--no-scheduler")

	// Writers through the daemon while backups are taken.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, stderr, code := d.run(t, tmp, "orgs", "add", fmt.Sprintf("R%04d", i), "--name", "Example Trust"); code != 0 {
				t.Errorf("orgs add: %d %s", code, stderr)
				return
			}
		}
	}()
	backups := filepath.Join(tmp, "backups")
	os.Mkdir(backups, 0o700)
	var files []string
	for i := range 3 {
		file := filepath.Join(backups, fmt.Sprintf("b%d.db", i))
		// A relative FILE names a file in the command's folder, not the daemon's.
		if out, stderr, code := d.run(t, backups, "backup", filepath.Base(file)); code != 0 || stderr != "" {
			t.Fatalf("backup with the daemon running: %d %q %q", code, out, stderr)
		}
		files = append(files, file)
		time.Sleep(100 * time.Millisecond)
	}
	out, stderr, code := d.run(t, tmp, "check")
	close(stop)
	wg.Wait()
	if code != 0 || stderr != "" || out != "cpis.db in "+data+": no problems (153 authorities, 0 plans, 0 messages, 0 row outcomes).\n" {
		t.Errorf("check with the daemon running: %d %q %q", code, out, stderr)
	}
	for _, f := range files {
		dir := t.TempDir()
		copyFile(t, f, filepath.Join(dir, store.FileName))
		if r := cliRun(t, "--data", dir, "check"); r.code != exitOK {
			t.Errorf("check of %s: %+v", f, r)
		}
	}

	// Restore: stop the daemon, check the backup in a folder of its own,
	// move it into place, start the daemon.
	d.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := d.wait(60 * time.Second); !ok {
		t.Fatalf("daemon did not stop:\n%s", d.log)
	}
	restore := filepath.Join(tmp, "restore")
	os.Mkdir(restore, 0o700)
	copyFile(t, files[0], filepath.Join(restore, store.FileName))
	if _, err := os.Stat(filepath.Join(data, "cpis.sock")); err == nil {
		t.Fatal("the stopped daemon left its control socket")
	}
	if _, stderr, code := (&daemon{bin: bin, data: restore}).run(t, tmp, "check"); code != 0 {
		t.Fatalf("check of the backup: %d %s", code, stderr)
	}
	if err := os.Rename(filepath.Join(data, store.FileName), filepath.Join(tmp, "cpis.db.damaged")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(restore, store.FileName), filepath.Join(data, store.FileName)); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, bin, data, "--no-scheduler")
	if out, stderr, code := d.run(t, tmp, "check"); code != 0 {
		t.Errorf("check after the restore: %d %q %q", code, out, stderr)
	}
}
