package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveNow is the --now of the daemon tests.
const serveNow = "2026-11-22T02:30:00Z"

// daemon is a `cpis serve` process started by a test.
type daemon struct {
	*proc
	bin, data string
}

// run runs a cpis command on the daemon's data dir from the folder dir.
func (d *daemon) run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	r := binRun(t, d.bin, dir, d.data, serveNow, args...)
	return r.stdout, r.stderr, r.code
}

// startDaemon starts cpis serve with SFTP on a free port, no HTTP, and
// waits for its control socket.
func startDaemon(t *testing.T, bin, data string, args ...string) *daemon {
	t.Helper()
	d := &daemon{bin: bin, data: data}
	d.proc = startProc(t, binCommand(bin, data, serveNow, nil, append([]string{"serve", "--no-http", "--sftp", "127.0.0.1:0"}, args...)...))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(data, "cpis.sock")); err == nil {
			return d
		}
		if done, err := d.exited(); done {
			t.Fatalf("daemon exited at start (%v):\n%s", err, d.log)
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s", d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeSchedules(t *testing.T, dir, ingestSpec string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, job := range []string{"pull", "expire", "notify", "report", "push"} {
		fmt.Fprintf(&b, "@every 1h %s\n", job)
	}
	fmt.Fprintf(&b, "%s ingest\n", ingestSpec)
	if err := os.WriteFile(filepath.Join(dir, "test.schedule"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestServeDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := cpisBinary(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")

	// A small hub: two LAs, a reference of 3,000 people.
	people := testNHS(3000)
	files := map[string]string{
		"authorities.csv": "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone\n" +
			"201,E09000001,City of London,London,,020 7946 0001,\n202,E09000007,Camden,London,,020 7946 0002,\n",
		"pds.csv": pdsCSV(people),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := &daemon{bin: bin, data: data}
	if _, stderr, code := d.run(t, tmp, "init", "--authorities", "authorities.csv", "--pds", "pds.csv"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	sched := filepath.Join(tmp, "schedules")
	writeSchedules(t, sched, "@every 1h") // nothing scheduled soon
	d = startDaemon(t, bin, data, "--schedules", sched)

	t.Run("commands run inside the daemon", func(t *testing.T) {
		// A relative path from another directory reaches the daemon whole.
		work := filepath.Join(tmp, "work")
		os.MkdirAll(work, 0o750)
		ret := "nhs_number,plan_type,start_date,local_id\n" + people[0] + ",CPP,2026-03-02,C-1\n"
		os.WriteFile(filepath.Join(work, "CPIS_201_FULL_20261121.csv"), []byte(ret), 0o600)
		out, stderr, code := d.run(t, work, "mailbox", "send", "--la", "201", "CPIS_201_FULL_20261121.csv")
		if code != 0 || !strings.HasPrefix(out, "Sent CPIS_201_FULL_20261121.csv to LA201HC001 inbox") {
			t.Fatalf("send through the daemon: %d %q %q", code, out, stderr)
		}
		out, _, code = d.run(t, work, "ingest", "--json")
		if code != 0 || !strings.Contains(out, `"code":"CPF02"`) {
			t.Fatalf("ingest through the daemon: %d %q", code, out)
		}
		out, _, code = d.run(t, work, "plans", "export")
		if code != 0 || !strings.Contains(out, people[0]+",201,CPP,2026-03-02,,,C-1,") {
			t.Errorf("plans export through the daemon: %d %q", code, out)
		}
	})

	t.Run("init refuses at once", func(t *testing.T) {
		start := time.Now()
		_, stderr, code := d.run(t, tmp, "init", "--authorities", "authorities.csv")
		if code != 1 || !strings.Contains(stderr, "cannot run while the daemon (`cpis serve`) holds the store") {
			t.Errorf("init while the daemon runs: %d %q", code, stderr)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("init took %s to refuse", el)
		}
	})

	t.Run("usage errors keep exit 2", func(t *testing.T) {
		if _, _, code := d.run(t, tmp, "ingest", "--nonsense"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})

	t.Run("SIGHUP with a bad set keeps the running one", func(t *testing.T) {
		os.WriteFile(filepath.Join(sched, "test.schedule"), []byte("61 * * * * ingest\n"), 0o600)
		d.cmd.Process.Signal(syscall.SIGHUP)
		waitLog(t, d, "schedules not reloaded")
	})

	t.Run("SIGTERM during a job lets it finish", func(t *testing.T) {
		// A large return, then a schedule that runs ingest every second.
		var b strings.Builder
		b.WriteString("nhs_number,plan_type,start_date,local_id\n")
		for i, n := range people {
			fmt.Fprintf(&b, "%s,LAC,2026-01-02,L-%d\n", n, i)
		}
		inbox := filepath.Join(data, "mailboxes", "LA202HC001", "inbox")
		name := "CPIS_202_FULL_20261121.csv"
		if err := os.WriteFile(filepath.Join(inbox, name), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute)
		os.Chtimes(filepath.Join(inbox, name), old, old)
		writeSchedules(t, sched, "@every 1s")
		d.cmd.Process.Signal(syscall.SIGHUP)
		waitLog(t, d, "schedules reloaded")
		// As soon as the return has left the inbox, the job is running.
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(inbox, name)); os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the scheduled ingest never took the return:\n%s", d.log)
			}
			time.Sleep(5 * time.Millisecond)
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		if err, ok := d.wait(60 * time.Second); !ok {
			t.Fatalf("daemon did not stop:\n%s", d.log)
		} else if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, d.log)
		}
		// The running job finished: the return is applied and answered.
		outbox, _ := os.ReadDir(filepath.Join(data, "mailboxes", "LA202HC001", "outbox"))
		responses := 0
		for _, e := range outbox {
			if strings.Contains(e.Name(), "_RESPONSE_") && strings.HasSuffix(e.Name(), ".csv") {
				responses++
			}
		}
		if responses != 1 {
			t.Errorf("202 outbox has %d responses after SIGTERM, want 1:\n%s", responses, d.log)
		}
		// The store is free again and shows the job run.
		out, stderr, code := d.run(t, tmp, "jobs")
		if code != 0 || !strings.Contains(out, "ingest") {
			t.Errorf("cpis jobs after the daemon stopped: %d %q %q\n%s", code, out, stderr, d.log)
		}
		if _, err := os.Stat(filepath.Join(data, "cpis.sock")); err == nil {
			// A stale socket is harmless (nothing answers), but say so.
			t.Log("control socket left behind after stop")
		}
	})
}

func waitLog(t *testing.T, d *daemon, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(d.log.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon log never said %q:\n%s", text, d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
