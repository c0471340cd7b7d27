package sftpd_test

import (
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
	"cpis/store"
)

// env is a data directory with two mailboxes (LA841HC001 and LA842HC001)
// served by an sftpd.Server on 127.0.0.1, with one registered key per LA.
type env struct {
	t       testing.TB
	data    string
	local   string // the client's own folder
	port    int
	keys    map[string]string // mailbox ID -> private key file
	stop    func()
	mu      sync.Mutex
	events  []sftpd.Event
	collect []string // "mailbox/file" passed to OnCollected
}

// newEnv starts a server; change adjusts its config.
func newEnv(t testing.TB, change func(*sftpd.Config)) *env {
	t.Helper()
	e := &env{t: t, data: t.TempDir(), local: t.TempDir(), keys: map[string]string{}}
	for _, mb := range []string{"LA841HC001", "LA842HC001"} {
		for _, f := range []string{"inbox", "outbox"} {
			if err := os.MkdirAll(filepath.Join(e.data, "mailboxes", mb, f), 0o750); err != nil {
				t.Fatal(err)
			}
		}
	}
	db, err := store.Open(e.data, store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	keyDir := t.TempDir()
	if err := db.Update(func(tx *store.Tx) error {
		for la, mb := range map[string]string{"841": "LA841HC001", "842": "LA842HC001"} {
			path, pub := sshtest.WriteKey(t, keyDir, "id_"+la)
			e.keys[mb] = path
			if _, err := tx.AddKey(la, mb, pub, "", time.Now()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	host, err := sftpd.LoadOrCreateHostKey(e.data)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sftpd.Config{
		DataDir: e.data,
		HostKey: host,
		Keys:    db,
		Audit: func(ev sftpd.Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
		OnCollected: func(mb, name string) {
			e.mu.Lock()
			e.collect = append(e.collect, mb+"/"+name)
			e.mu.Unlock()
		},
		HandshakeTimeout: 5 * time.Second,
	}
	if change != nil {
		change(&cfg)
	}
	srv, err := sftpd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.port = l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return after cancel")
			}
			db.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

// put writes a file into the mailbox tree (path relative to mailboxes/).
func (e *env) put(rel, content string) {
	e.t.Helper()
	p := filepath.Join(e.data, "mailboxes", rel)
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		e.t.Fatal(err)
	}
}

// localFile writes a file into the client's folder and returns its path.
func (e *env) localFile(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.local, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// sftp runs the OpenSSH client in batch mode as user with key, in the
// client's own folder, and returns its combined output and error.
func (e *env) sftp(user, key, batch string, extra ...string) (string, error) {
	e.t.Helper()
	return sshtest.SFTP{Port: e.port, User: user, Key: key, Home: e.local, Args: extra}.Run(e.t, batch)
}

// tree returns every file under mailboxes/ with its content, and every
// folder with a trailing slash.
func (e *env) tree() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	root := filepath.Join(e.data, "mailboxes")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		default:
			out[rel] = "<" + d.Type().String() + ">"
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// audit returns the events so far with their times, sessions and remote
// addresses cleared.
func (e *env) audit() []sftpd.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]sftpd.Event, len(e.events))
	for i, ev := range e.events {
		if ev.At.IsZero() {
			e.t.Errorf("event %d has no time", i)
		}
		if ev.Remote == "" {
			e.t.Errorf("event %d has no remote address", i)
		}
		ev.At, ev.Session, ev.Remote, ev.Fingerprint = time.Time{}, 0, "", ""
		out[i] = ev
	}
	return out
}

// listing returns the lines of sftp's output that are not its echoed
// commands.
func listing(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "sftp>") {
			lines = append(lines, l)
		}
	}
	return lines
}

func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
