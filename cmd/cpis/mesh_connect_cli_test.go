package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"cpis/store"
)

// runMeshConnect runs `cpis mesh connect ARGS` on h. It uses the root's
// mesh command when it has one with connect, else attaches connect under
// a mesh command of its own, so the test does not depend on the parent.
func runMeshConnect(h *cliHub, args ...string) cliResult {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	root, g := newRoot(&stdout, &stderr)
	var parent *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "mesh" {
			parent = c
		}
	}
	if parent == nil {
		parent = &cobra.Command{Use: "mesh"}
		root.AddCommand(parent)
	}
	found := false
	for _, c := range parent.Commands() {
		found = found || c.Name() == "connect"
	}
	if !found {
		parent.AddCommand(newMeshConnectCommand(g))
	}
	root.SetArgs(append([]string{"--data", h.data, "--now", cliNow, "mesh", "connect"}, args...))
	err := root.ExecuteContext(h.t.Context())
	code := exitOK
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		code = exitUsage
		stderr.WriteString("cpis: " + err.Error() + "\n")
	default:
		code = exitFailure
		stderr.WriteString("cpis: " + err.Error() + "\n")
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestCLIMeshConnect(t *testing.T) {
	h := initCLIHub(t)
	secret := func(name, content string) string {
		p := h.file(name, content)
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw := secret("password", "s3cret-password\n")
	key := secret("shared-key", "s3cret-key\n")
	open := h.file("open-password", "s3cret-password\n") // 0644
	empty := secret("empty", "\n")

	r := runMeshConnect(h, "--url", "https://mesh.example.org/", "--mailbox", "x26ot001", "--password-file", pw, "--shared-key-file", key)
	want := "Recorded the hub's MESH mailbox X26OT001 at https://mesh.example.org.\n" +
		"Its password and shared key stay in " + pw + " and " + key + ", read at each run.\n" +
		"Pull brings its inbox into the LAs' inboxes; push sends the outbox of every LA without an SFTP remote mailbox over MESH.\n"
	if r.code != exitOK || r.stdout != want || r.stderr != "" {
		t.Errorf("connect: exit %d\nstdout %q\nwant   %q\nstderr %q", r.code, r.stdout, want, r.stderr)
	}
	r = runMeshConnect(h, "--url", "http://127.0.0.1:8443", "--mailbox", "X26OT002", "--password-file", pw, "--shared-key-file", key,
		"--chunk-size", "1048576", "--push", "841")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "Replaced the hub's MESH mailbox X26OT002") || !strings.Contains(r.stdout, "outbox of LA 841 over MESH") {
		t.Errorf("second connect: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var conn store.MeshConn
	var events []store.AuditEvent
	err = db.View(func(tx *store.Tx) error {
		var ok bool
		if conn, ok, err = tx.MeshConn(); !ok || err != nil {
			t.Errorf("no connection recorded: %v", err)
		}
		return tx.AuditEvents(func(e store.AuditEvent) error {
			if strings.HasPrefix(e.Action, "mesh_") {
				events = append(events, e)
			}
			return nil
		})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if conn.URL != "http://127.0.0.1:8443" || conn.Mailbox != "X26OT002" || conn.PasswordFile != pw || conn.SharedKeyFile != key ||
		conn.ChunkSize != 1<<20 || conn.Push != "841" {
		t.Errorf("recorded %+v", conn)
	}
	if len(events) != 2 || events[1].Note != "X26OT002 at http://127.0.0.1:8443" {
		t.Errorf("audit %+v", events)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--mailbox", "X", "--password-file", pw, "--shared-key-file", key}, exitUsage, "--url URL is required"},
		{[]string{"--url", "https://m", "--password-file", pw, "--shared-key-file", key}, exitUsage, "--mailbox ID is required"},
		{[]string{"--url", "mesh.example.org", "--mailbox", "X", "--password-file", pw, "--shared-key-file", key}, exitUsage, "not an http(s) base URL"},
		{[]string{"--url", "https://m/messageexchange", "--mailbox", "X", "--password-file", pw, "--shared-key-file", key}, exitUsage, "without /messageexchange"},
		{[]string{"--url", "https://m", "--mailbox", "X", "--password-file", pw, "--shared-key-file", key, "--cert", pw}, exitUsage, "--cert and --key go together"},
		{[]string{"--url", "https://m", "--mailbox", "X", "--password-file", pw, "--shared-key-file", key, "--chunk-size", "-1"}, exitUsage, "--chunk-size"},
		{[]string{"--url", "https://m", "--mailbox", "X", "--password-file", open, "--shared-key-file", key}, exitFailure, "readable by its owner only"},
		{[]string{"--url", "https://m", "--mailbox", "X", "--password-file", empty, "--shared-key-file", key}, exitFailure, "is empty"},
		{[]string{"--url", "https://m", "--mailbox", "X", "--password-file", pw, "--shared-key-file", key + ".gone"}, exitFailure, "shared key file"},
		{[]string{"--url", "https://m", "--mailbox", "X", "--password-file", pw, "--shared-key-file", key, "--ca", pw}, exitFailure, "no PEM certificate"},
		{[]string{"--url", "https://m", "--mailbox", "X", "--password-file", pw, "--shared-key-file", key, "--push", "999"}, exitFailure, `LA "999" is not one of the hub's authorities`},
	} {
		r := runMeshConnect(h, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("mesh connect %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.msg)
		}
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("mesh connect %s printed a secret: %q %q", strings.Join(c.args, " "), r.stdout, r.stderr)
		}
	}
}
