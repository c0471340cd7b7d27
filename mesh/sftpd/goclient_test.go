package sftpd_test

import (
	"errors"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"cpis/mesh/sftpd"
)

// These tests drive the server with pkg/sftp's client, for what the
// OpenSSH client cannot do on purpose: drop a connection mid-upload, set
// times, race two uploads.

func (e *env) dial(mailbox string) (*ssh.Client, *sftp.Client) {
	e.t.Helper()
	signer, err := ssh.ParsePrivateKey(fileBytes(e.t, e.keys[mailbox]))
	if err != nil {
		e.t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port)), &ssh.ClientConfig{
		User:            mailbox,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close(); conn.Close() })
	return conn, c
}

// waitFor polls cond until it holds or 5 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDroppedUploadIsRemoved(t *testing.T) {
	e := newEnv(t, nil)
	before := e.tree()
	conn, c := e.dial(la841)
	f, err := c.Create("/inbox/" + ret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// Under its hidden name while it is written, and stat-able by the
	// client under its own.
	tmp := filepath.Join(e.data, "mailboxes", la841, "inbox", "."+ret+".tmp")
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("no temporary file while uploading: %v", err)
	}
	if fi, err := c.Stat("/inbox/" + ret); err != nil || fi.Size() != 1<<20 {
		t.Errorf("stat of the upload in progress: %v %v", fi, err)
	}
	conn.Close() // the connection drops, the file still open
	waitFor(t, "the temporary file to go", func() bool {
		_, err := os.Stat(tmp)
		return errors.Is(err, fs.ErrNotExist)
	})
	e.stop()
	if diff := cmp.Diff(before, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-before +after):\n%s", diff)
	}
	want := []sftpd.Event{
		login(la841),
		{Kind: sftpd.KindUpload, MailboxID: la841, Path: "/inbox/" + ret, Outcome: sftpd.OutcomeFailed, Reason: "connection lost"},
		logout(0),
	}
	if diff := cmp.Diff(want, e.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestSetTimesChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.put(la841+"/inbox/"+ret, body)
	p := filepath.Join(e.data, "mailboxes", la841, "inbox", ret)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	_, c := e.dial(la841)
	if err := c.Chtimes("/inbox/"+ret, time.Now(), time.Now()); err != nil {
		t.Errorf("set times: %v", err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("modification time changed: %v %v", fi.ModTime(), err)
	}
	if err := c.Chmod("/inbox/"+ret, 0o777); !errors.Is(err, os.ErrPermission) {
		t.Errorf("chmod: got %v, want permission denied", err)
	}
	if err := c.Truncate("/inbox/"+ret, 0); err == nil {
		t.Error("truncate succeeded")
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 || fi.Size() != int64(len(body)) {
		t.Errorf("file changed: %v %v", fi, err)
	}
}

// Two uploads of one name: the second is refused while the first runs; an
// upload whose name appears meanwhile is refused on Close and removed.
func TestUploadRaces(t *testing.T) {
	e := newEnv(t, nil)
	_, c1 := e.dial(la841)
	_, c2 := e.dial(la841)
	f1, err := c1.Create("/inbox/" + ret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Create("/inbox/" + ret); err == nil {
		t.Error("a second upload of a name being uploaded was accepted")
	}
	if _, err := f1.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	e.put(la841+"/inbox/"+ret, "arrived meanwhile")
	before := e.tree()
	delete(before, la841+"/inbox/."+ret+".tmp")
	if err := f1.Close(); !errors.Is(err, os.ErrPermission) {
		t.Errorf("an upload onto a file that arrived meanwhile: got %v, want permission denied", err)
	}
	if diff := cmp.Diff(before, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-before +after):\n%s", diff)
	}
	// The name is free again once the first upload is closed.
	f2, err := c2.Create("/inbox/other.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := f2.Close(); err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(before)
	want[la841+"/inbox/other.csv"] = body
	if diff := cmp.Diff(want, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-want +got):\n%s", diff)
	}
}

func TestDeleteUnfinishedUpload(t *testing.T) {
	e := newEnv(t, nil)
	e.put(la841+"/inbox/"+ret+".filepart", "half")
	before := e.tree()
	_, c := e.dial(la841)
	if err := c.Remove("/inbox/" + ret + ".filepart"); err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(before)
	delete(want, la841+"/inbox/"+ret+".filepart")
	if diff := cmp.Diff(want, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-want +got):\n%s", diff)
	}
}

func TestConnectionLimitAndHandshakeTimeout(t *testing.T) {
	e := newEnv(t, func(c *sftpd.Config) { c.MaxConns = 1; c.HandshakeTimeout = 300 * time.Millisecond })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port))
	idle, err := net.Dial("tcp", addr) // takes the only slot and says nothing
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// The server greets a connection it serves: once idle has the greeting,
	// it holds the slot.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := readLine(idle); err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
		t.Fatalf("greeting of the first connection: %q %v", line, err)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := extra.Read(make([]byte, 64)); err == nil {
		t.Errorf("a connection over the limit was served (read %d bytes)", n)
	}
	start := time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	for {
		if _, err := idle.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a silent client was not cut off at the handshake deadline")
			}
			break
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cut off after %s", d)
	}
	e.stop()
	want := []sftpd.Event{{Kind: sftpd.KindRefusal, Op: "connect", Outcome: sftpd.OutcomeRefused, Reason: "too many connections"}}
	if diff := cmp.Diff(want, e.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestHostKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := sftpd.LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, sftpd.HostKeyFile)
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key file: %v %v", fi, err)
	}
	if k1.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Errorf("key type %s", k1.PublicKey().Type())
	}
	if _, err := ssh.ParseRawPrivateKey(fileBytes(t, p)); err != nil {
		t.Errorf("not an OpenSSH private key: %v", err)
	}
	k2, err := sftpd.LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(k1.PublicKey().Marshal(), k2.PublicKey().Marshal()) {
		t.Error("a second call made a new key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want the key only", len(entries))
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sftpd.LoadOrCreateHostKey(dir); err == nil {
		t.Error("a host key readable by others was accepted")
	}
}

// readLine reads c up to and including a newline, byte by byte so that
// nothing after it is consumed.
func readLine(c net.Conn) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			return string(line), err
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			return string(line), nil
		}
	}
}
