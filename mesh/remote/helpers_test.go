package remote_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"cpis/batch/datadir"
	"cpis/batch/ingest"
	"cpis/batch/meshstore"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/remote"
	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
	"cpis/store"
)

// The clock of records and of the ingest: 02:30 on 22 November 2026, the
// day after the sample return's extract date.
var runAt = time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)

const (
	msgID     = "20261121013000123456_3F9A0C"
	retName   = "CPIS_841_FULL_20261121.csv"
	retCtl    = "CPIS_841_FULL_20261121.ctl"
	testdata  = "../../testdata"
	mailbox   = "LA841HC001"
	mailbox2  = "LA202HC001"
	dialLimit = 5 * time.Second
)

// sampleReturn is a clean FULL return of LA 841 (four rows, all applied
// against the shared ingest demographics).
func sampleReturn(t testing.TB) []byte {
	return readFile(t, filepath.Join(testdata, "ingest", "cpf02_clean", retName))
}

// incomingControl is the control file an LA's MESH client writes.
func incomingControl(mb, name string) []byte {
	return mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: mb, To: mesh.HubMailbox,
		Subject: "return", LocalID: name, DTSID: msgID, WorkflowID: mesh.WorkflowUpload,
		IsCompressed: filepath.Ext(name) == ".gz"}.Marshal()
}

// paddedGzip gzips data after 20 empty gzip members that each carry 60 kB
// of random header extra: over 1 MiB on the wire, yet it decompresses to
// data, so a transfer can be cut in its middle and the return still
// applied.
func paddedGzip(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	pad := make([]byte, 60000)
	rand.Read(pad)
	for range 20 {
		zw := gzip.NewWriter(&buf)
		zw.Extra = pad
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes a file with modification time at (zero: now).
func writeFile(t testing.TB, dir, name string, data []byte, at time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if !at.IsZero() {
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// names lists a folder, "" for a folder that does not exist.
func names(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, de := range des {
		out = append(out, de.Name())
	}
	sort.Strings(out)
	return out
}

// hub is the local hub: a data dir made by init (the 153 authorities and
// the ingest demographics; the mailboxes of 841 and 202), its store open.
type hub struct {
	t    testing.TB
	dir  string
	keys string // folder of the private keys it logs in with
	db   *store.DB
}

// template is a data dir made by init once per test binary; each hub
// copies its store.
var template struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if template.dir != "" {
		os.RemoveAll(template.dir)
	}
	os.Exit(code)
}

func newHub(t testing.TB) *hub {
	t.Helper()
	template.once.Do(func() {
		if template.dir, template.err = os.MkdirTemp("", "cpis-remote-template-"); template.err != nil {
			return
		}
		var auth, pds []byte
		if auth, template.err = os.ReadFile(filepath.Join(testdata, "authorities.csv")); template.err != nil {
			return
		}
		if pds, template.err = os.ReadFile(filepath.Join(testdata, "ingest", "demographics.csv")); template.err != nil {
			return
		}
		template.err = datadir.Init(template.dir, datadir.InitOptions{
			Authorities:  datadir.Source{Name: "authorities.csv", R: bytes.NewReader(auth)},
			Demographics: &datadir.Source{Name: "demographics.csv", R: bytes.NewReader(pds)},
			Now:          runAt,
		})
	})
	if template.err != nil {
		t.Fatalf("init: %v", template.err)
	}
	h := &hub{t: t, dir: t.TempDir(), keys: t.TempDir()}
	if err := os.WriteFile(filepath.Join(h.dir, store.FileName), readFile(t, filepath.Join(template.dir, store.FileName)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mb := range []string{mailbox, mailbox2} {
		if err := local.Open(h.dir, mb).Create(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.Open(h.dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	return h
}

func (h *hub) cfg() remote.Config {
	return remote.Config{DataDir: h.dir, Store: meshstore.RemoteStore{DB: h.db}, Now: func() time.Time { return runAt }, DialTimeout: dialLimit}
}

func (h *hub) pull(cfg remote.Config) remote.Result {
	h.t.Helper()
	res, err := remote.Pull(context.Background(), cfg)
	if err != nil {
		h.t.Fatalf("pull: %v", err)
	}
	return res
}

func (h *hub) push(cfg remote.Config) remote.Result {
	h.t.Helper()
	res, err := remote.Push(context.Background(), cfg)
	if err != nil {
		h.t.Fatalf("push: %v", err)
	}
	return res
}

// ingest runs the nightly ingest and returns "file code applied=N" per
// message taken.
func (h *hub) ingest() []string {
	h.t.Helper()
	rep, err := ingest.Run(context.Background(), ingest.Config{DataDir: h.dir, DB: h.db, Now: func() time.Time { return runAt }, LAs: []string{"841", "202"}})
	if err != nil {
		h.t.Fatalf("ingest: %v", err)
	}
	if len(rep.Failed) > 0 {
		h.t.Fatalf("ingest failed: %v", rep.Failed)
	}
	out := []string{}
	for _, r := range rep.Results {
		out = append(out, fmt.Sprintf("%s %s applied=%d", r.File, r.Code, r.Applied))
	}
	return out
}

func (h *hub) inbox(mb string) string  { return local.Open(h.dir, mb).InboxDir() }
func (h *hub) outbox(mb string) string { return local.Open(h.dir, mb).OutboxDir() }

// addRemote records la's remote mailbox: acct on the server at addr.
func (h *hub) addRemote(la, addr string, acct account) {
	h.t.Helper()
	r := store.Remote{LA: la, Addr: addr, User: acct.user, KeyFile: acct.key, Inbox: acct.inbox, Outbox: acct.outbox, Added: runAt}
	if err := h.db.Update(func(tx *store.Tx) error { return tx.PutRemote(r) }); err != nil {
		h.t.Fatal(err)
	}
}

// trust adds key as addr's host key to the hub's known_hosts.
func (h *hub) trust(addr string, key ssh.PublicKey) {
	h.t.Helper()
	sshtest.AppendKnownHost(h.t, filepath.Join(h.dir, remote.KnownHostsFile), addr, key)
}

// account is an LA's login on a server and its folders: as the remote
// record names them (inbox, outbox), and on this machine (pullDir,
// pushDir) for the test to look at.
type account struct {
	user, key        string
	inbox, outbox    string
	pullDir, pushDir string
}

// server is an SFTP server an LA's remote mailbox lives on.
type server struct {
	name    string
	addr    string
	hostKey ssh.PublicKey
	// account makes an account for LA la whose key is written in keyDir.
	account func(t testing.TB, la, keyDir string) account
	// audit returns what the server recorded, if it records anything.
	audit func() []sftpd.Event
}

// eachServer runs fn against a real OpenSSH sshd and against the hub's own
// SFTP server (another hub's data dir).
func eachServer(t *testing.T, fn func(t *testing.T, srv *server)) {
	t.Run("sshd", func(t *testing.T) { fn(t, startSSHD(t)) })
	t.Run("sftpd", func(t *testing.T) { fn(t, startHubServer(t)) })
}

// startSSHD starts OpenSSH's sshd (sshtest.StartSSHD); the LA folders
// are temporary folders reached by absolute path, and every LA logs in as
// the current user.
func startSSHD(t testing.TB) *server {
	t.Helper()
	d := sshtest.StartSSHD(t, sshtest.SSHDOptions{})
	srv := &server{name: "sshd", addr: d.Addr, hostKey: d.HostKey}
	srv.account = func(t testing.TB, la, keyDir string) account {
		key, pub := sshtest.WriteKey(t, keyDir, "id_"+la+"_sshd")
		d.Authorize(t, pub)
		in, out := t.TempDir(), t.TempDir()
		return account{user: d.User, key: key, inbox: in, outbox: out, pullDir: in, pushDir: out}
	}
	return srv
}

// startHubServer starts the hub's own SFTP server over another data dir
// (a "remote hub"). An LA logs in as its mailbox ID and sees /inbox
// (upload) and /outbox (download, delete): the local hub pulls from the
// remote /outbox and pushes into the remote /inbox.
func startHubServer(t testing.TB) *server {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := sftpd.LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []sftpd.Event
	srv, err := sftpd.New(sftpd.Config{DataDir: dir, HostKey: hostKey, Keys: db, HandshakeTimeout: dialLimit,
		Audit: func(e sftpd.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sftpd Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("sftpd did not stop")
		}
		db.Close()
	})
	s := &server{name: "sftpd", addr: l.Addr().String(), hostKey: hostKey.PublicKey()}
	s.account = func(t testing.TB, la, keyDir string) account {
		mb := mesh.MailboxID(la)
		m := local.Open(dir, mb)
		if err := m.Create(); err != nil {
			t.Fatal(err)
		}
		key, pub := sshtest.WriteKey(t, keyDir, "id_"+la+"_sftpd")
		if err := db.Update(func(tx *store.Tx) error {
			_, err := tx.AddKey(la, mb, pub, "", runAt)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return account{user: mb, key: key, inbox: "/outbox", outbox: "/inbox", pullDir: m.OutboxDir(), pushDir: m.InboxDir()}
	}
	s.audit = func() []sftpd.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]sftpd.Event(nil), events...)
	}
	return s
}

// proxy forwards loopback connections to a server and, when cut is set,
// drops each connection once more than cut bytes came back from the server.
type proxy struct {
	addr string
	cut  atomic.Int64
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			cut := p.cut.Load()
			wg.Add(2)
			go func() {
				defer wg.Done()
				io.Copy(s, c)
				s.Close()
				c.Close()
			}()
			go func() {
				defer wg.Done()
				var r io.Reader = s
				if cut > 0 {
					r = io.LimitReader(s, cut)
				}
				io.Copy(c, r)
				s.Close()
				c.Close()
			}()
		}
	}()
	return p
}
