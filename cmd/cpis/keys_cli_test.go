package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

// cliKeyPair returns an ed25519 key's authorized_keys line (with comment)
// and its private key in OpenSSH format.
func cliKeyPair(t *testing.T, comment string) (pub, priv string, fp string) {
	t.Helper()
	p, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(p)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(k, comment)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment + "\n"
	return line, string(pem.EncodeToMemory(block)), ssh.FingerprintSHA256(sp)
}

func TestCLIKeys(t *testing.T) {
	h := initCLIHub(t)
	pub, priv, fp := cliKeyPair(t, "alice@841")
	pubPath := h.file("id_ed25519.pub", pub)

	if got, want := h.ok("keys", "list"), "No SFTP keys registered.\n"; got != want {
		t.Errorf("empty list: %q", got)
	}
	out := h.ok("keys", "add", "--la", "841", pubPath)
	if want := "Added ssh-ed25519 key " + fp + " for LA 841: it logs in as LA841HC001.\n"; out != want {
		t.Errorf("add printed %q, want %q", out, want)
	}
	h.ok("keys", "add", "--la", "841", pubPath) // again: nothing changes

	got := cliJSONLines(t, h.ok("keys", "list", "--json"))
	want := []map[string]any{{"la": "841", "mailbox_id": "LA841HC001", "fingerprint": fp, "type": "ssh-ed25519",
		"comment": "alice@841", "added": "2026-11-22T02:30:00Z"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys list --json (-want +got):\n%s", diff)
	}
	table := h.ok("keys", "list", "--la", "841")
	if !strings.HasPrefix(table, "LA   MAILBOX     FINGERPRINT") || !strings.Contains(table, fp) || !strings.Contains(table, "2026-11-22 02:30") {
		t.Errorf("keys list table:\n%s", table)
	}

	// Failures name the file or the key, and exit 1; usage errors exit 2.
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"keys", "add", "--la", "202", pubPath}, exitFailure, "another LA"},
		{[]string{"keys", "add", "--la", "841", h.file("id_ed25519", priv)}, exitFailure, "is a private key"},
		{[]string{"keys", "add", "--la", "841", h.file("notes.pub", "hello\n")}, exitFailure, "notes.pub is not an OpenSSH public key"},
		{[]string{"keys", "add", "--la", "999", pubPath}, exitFailure, `LA "999" is not one of the hub's authorities`},
		{[]string{"keys", "add", pubPath}, exitUsage, "--la CODE is required"},
		{[]string{"keys", "remove", "--la", "202", fp}, exitFailure, "LA 202 has no key " + fp},
		{[]string{"keys", "remove", "--la", "841"}, exitUsage, "accepts 1 arg"},
	} {
		r := h.run(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("cpis %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.msg)
		}
	}

	if out := h.ok("keys", "remove", "--la", "841", fp); out != "Removed key "+fp+" of LA 841.\n" {
		t.Errorf("remove printed %q", out)
	}
	if got := h.ok("keys", "list"); got != "No SFTP keys registered.\n" {
		t.Errorf("list after remove: %q", got)
	}
}
