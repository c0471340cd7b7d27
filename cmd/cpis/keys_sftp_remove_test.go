package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// inProcessDaemon runs `cpis serve` (no HTTP, no scheduler, SFTP on a free
// loopback port) in this process with extra flags, and returns the SFTP
// address; it stops at cleanup.
func inProcessDaemon(t *testing.T, data string, flags ...string) (addr string, log *syncBuffer) {
	t.Helper()
	log = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"--data", data, "--now", cliNow, "serve", "--no-http", "--no-scheduler", "--sftp", "127.0.0.1:0"}, flags...)
	go func() { done <- run(ctx, args, log, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve exited %d:\n%s", code, log)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop:\n%s", log)
		}
	})
	listening := regexp.MustCompile(`SFTP server listening.* addr=(127\.0\.0\.1:[0-9]+)`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if m := listening.FindStringSubmatch(log.String()); m != nil {
			if _, err := os.Stat(filepath.Join(data, "cpis.sock")); err == nil {
				return m[1], log
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sftpLogin logs in to addr as user with the private key priv (OpenSSH
// format) and opens an SFTP session; err is the session's error.
func sftpLogin(t *testing.T, addr, user, priv string) (*ssh.Client, *sftp.Client, error) {
	t.Helper()
	signer, err := ssh.ParsePrivateKey([]byte(priv))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := sftp.NewClient(conn)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return conn, c, err
}

// `cpis keys remove`, run inside the daemon, ends the key's open sessions
// at once; `serve --sftp-max-sessions` bounds a mailbox's sessions; both
// are in `cpis audit --sftp`.
func TestCLIKeysRemoveEndsSFTPSessions(t *testing.T) {
	h := initCLIHub(t)
	pub, priv, fp := cliKeyPair(t, "alice@841")
	h.ok("keys", "add", "--la", "841", h.file("id_ed25519.pub", pub))
	addr, _ := inProcessDaemon(t, h.data, "--sftp-max-sessions", "1")

	conn, c, err := sftpLogin(t, addr, "LA841HC001", priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadDir("/inbox"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sftpLogin(t, addr, "LA841HC001", priv); err == nil || !strings.Contains(err.Error(), "too many sessions open for this mailbox (limit 1)") {
		t.Errorf("a second session with --sftp-max-sessions 1: got %v", err)
	}

	start := time.Now()
	if out := h.ok("keys", "remove", "--la", "841", fp); out != "Removed key "+fp+" of LA 841.\n" {
		t.Errorf("keys remove printed %q", out)
	}
	done := make(chan error, 1)
	go func() { done <- conn.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the session of the removed key goes on")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("session ended %s after keys remove", d)
	}
	if _, err := c.ReadDir("/inbox"); err == nil {
		t.Error("the SFTP client of a removed key is still served")
	}

	audit := h.ok("audit", "--sftp")
	for _, want := range []string{
		"refusal login  ",
		"refused: too many sessions open for this mailbox (limit 1)",
		"refusal session",
		"refused: the key is no longer registered for this mailbox: session closed",
	} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit --sftp lacks %q:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, strings.TrimPrefix(fp, "SHA256:")) || strings.Contains(audit, "PRIVATE") {
		t.Errorf("audit --sftp shows a key:\n%s", audit)
	}
}
