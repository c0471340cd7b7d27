package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCLIRemotes(t *testing.T) {
	h := initCLIHub(t)
	_, priv, fp := cliKeyPair(t, "hub@841")
	key := h.file("id_841", priv)
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}

	if got := h.ok("remotes", "list"); got != "No remote mailboxes.\n" {
		t.Errorf("empty list: %q", got)
	}
	out := h.ok("remotes", "add", "--la", "841", "--addr", "127.0.0.1:2222", "--user", "cpis", "--key", key)
	known := filepath.Join(h.data, "known_hosts")
	want := "Added the remote mailbox of LA 841: cpis@127.0.0.1:2222, key " + key + " (ssh-ed25519 " + fp + ").\n" +
		"Pull fetches returns from inbox; push delivers to outbox.\n" +
		"The host key of 127.0.0.1:2222 is not in " + known + " yet: until it is, pull and push fail for LA 841.\n" +
		"Check its fingerprint with the server's owner, then add it:\n  ssh-keyscan -p 2222 127.0.0.1 >> " + known + "\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("add printed (-want +got):\n%s", diff)
	}
	// Replaced, with other folders; a known host is not mentioned.
	if err := os.WriteFile(known, []byte("[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = h.ok("remotes", "add", "--la", "841", "--addr", "127.0.0.1:2222", "--user", "cpis", "--key", key, "--inbox", "/to-hub", "--outbox", "/from-hub")
	if !strings.HasPrefix(out, "Replaced the remote mailbox of LA 841") || strings.Contains(out, "ssh-keyscan") {
		t.Errorf("second add printed %q", out)
	}
	got := cliJSONLines(t, h.ok("remotes", "list", "--json"))
	wantList := []map[string]any{{"la": "841", "addr": "127.0.0.1:2222", "user": "cpis", "key_file": key,
		"inbox": "/to-hub", "outbox": "/from-hub", "added": "2026-11-22T02:30:00Z"}}
	if diff := cmp.Diff(wantList, got); diff != "" {
		t.Errorf("remotes list --json (-want +got):\n%s", diff)
	}
	if table := h.ok("remotes", "list"); !strings.HasPrefix(table, "LA   ADDR") || !strings.Contains(table, "/from-hub") {
		t.Errorf("remotes list:\n%s", table)
	}

	open := h.file("id_open", priv) // 0644
	pub := h.file("id.pub", "ssh-ed25519 AAAA x\n")
	if err := os.Chmod(pub, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"remotes", "add", "--la", "841", "--addr", "h:22", "--user", "u", "--key", open}, exitFailure, "readable by its owner only"},
		{[]string{"remotes", "add", "--la", "841", "--addr", "h:22", "--user", "u", "--key", pub}, exitFailure, "not an OpenSSH private key"},
		{[]string{"remotes", "add", "--la", "999", "--addr", "h:22", "--user", "u", "--key", key}, exitFailure, `LA "999" is not one of the hub's authorities`},
		{[]string{"remotes", "add", "--la", "841", "--addr", "h", "--user", "u", "--key", key}, exitUsage, "is not HOST:PORT"},
		{[]string{"remotes", "add", "--la", "841", "--user", "u", "--key", key}, exitUsage, "--addr HOST:PORT is required"},
		{[]string{"remotes", "remove", "--la", "202"}, exitFailure, "LA 202 has no remote mailbox"},
		{[]string{"remotes", "remove"}, exitUsage, "--la CODE is required"},
	} {
		r := h.run(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("cpis %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.msg)
		}
	}
	if out := h.ok("remotes", "remove", "--la", "841"); out != "Removed the remote mailbox of LA 841.\n" {
		t.Errorf("remove printed %q", out)
	}
	if got := h.ok("remotes", "list"); got != "No remote mailboxes.\n" {
		t.Errorf("list after remove: %q", got)
	}
}
