package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cpis/store/nhsnumber"
)

// daemon is a `cpis serve` process started by a test.
type daemon struct {
	bin, data string
	cmd       *exec.Cmd
	log       *syncBuffer
	done      chan error
}

// syncBuffer is a bytes.Buffer the daemon's output goroutine and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func buildCPIS(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cpis")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func (d *daemon) run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(d.bin, append([]string{"--data", d.data, "--now", "2026-11-22T02:30:00Z"}, args...)...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan struct{})
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	close(done)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cpis %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func startDaemon(t *testing.T, bin, data string, args ...string) *daemon {
	t.Helper()
	d := &daemon{bin: bin, data: data, log: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, append([]string{"--data", data, "--now", "2026-11-22T02:30:00Z", "serve", "--no-http", "--sftp", "127.0.0.1:0"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(data, "cpis.sock")); err == nil {
			return d
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

// serveNHS returns n valid 999-range NHS numbers present in the test
// demographics... of its own (the test writes its reference).
func serveNHS(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		cand := fmt.Sprintf("999%06d", i)
		for c := 0; c <= 9; c++ {
			num := fmt.Sprintf("%s%d", cand, c)
			if _, p := nhsnumber.Normalize(num); p == nhsnumber.OK {
				out = append(out, num)
				break
			}
		}
	}
	return out
}

func TestServeDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildCPIS(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")

	// A small hub: two LAs, a reference of 3,000 people.
	people := serveNHS(3000)
	var pds strings.Builder
	pds.WriteString("nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n")
	for _, n := range people {
		fmt.Fprintf(&pds, "%s,,,2015-01-01,,,\n", n)
	}
	files := map[string]string{
		"authorities.csv": "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone\n" +
			"201,E09000001,City of London,London,,020 7946 0001,\n202,E09000007,Camden,London,,020 7946 0002,\n",
		"pds.csv": pds.String(),
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
		select {
		case err := <-d.done:
			d.done <- err
			if err != nil {
				t.Fatalf("daemon exit: %v\n%s", err, d.log)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("daemon did not stop:\n%s", d.log)
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
