package sshtest_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"cpis/mesh/sshtest"
)

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path, pub := sshtest.WriteKey(t, dir, "id_test")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi, err)
	}
	if got := sshtest.PublicKey(t, path); !bytes.Equal(got.Marshal(), pub.Marshal()) {
		t.Error("PublicKey does not give back the key WriteKey returned")
	}

	auth := filepath.Join(dir, "authorized_keys")
	_, other := sshtest.WriteKey(t, dir, "id_other")
	var wg sync.WaitGroup
	for _, k := range []ssh.PublicKey{pub, other} {
		wg.Add(1)
		go func() { defer wg.Done(); sshtest.AppendAuthorizedKey(t, auth, k) }()
	}
	wg.Wait()
	rest, err := os.ReadFile(auth)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for len(rest) > 0 {
		if _, _, _, rest, err = ssh.ParseAuthorizedKey(rest); err != nil {
			t.Fatalf("authorized_keys line %d: %v", n+1, err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("authorized_keys holds %d keys, want 2", n)
	}

	kh := filepath.Join(dir, "known_hosts")
	sshtest.AppendKnownHost(t, kh, "127.0.0.1:2222", pub)
	cb, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
	if err := cb("127.0.0.1:2222", addr, pub); err != nil {
		t.Errorf("known host: %v", err)
	}
	if err := cb("127.0.0.1:2222", addr, other); err == nil {
		t.Error("another key was accepted for the host")
	}
}

// The harness end to end: sshd lets an authorized key in, the sftp client
// runs a batch against it.
func TestSSHDAndSFTP(t *testing.T) {
	sshtest.NeedSFTP(t)
	d := sshtest.StartSSHD(t, sshtest.SSHDOptions{})
	key, pub := sshtest.WriteKey(t, t.TempDir(), "id_client")
	d.Authorize(t, pub)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := sshtest.SFTP{Port: d.Port, User: d.User, Key: key}
	out, err := c.Run(t, "ls -1 "+dir+"\n")
	if err != nil || !strings.Contains(out, "hello.txt") {
		t.Errorf("sftp ls: %v\n%s", err, out)
	}
	c.Key, _ = sshtest.WriteKey(t, t.TempDir(), "id_stranger")
	if out, err := c.Run(t, "ls\n"); err == nil {
		t.Errorf("a client without an authorized key logged in:\n%s", out)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b sshtest.SyncBuffer
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Write([]byte("x")) }()
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 10) {
		t.Errorf("String() = %q", got)
	}
}
