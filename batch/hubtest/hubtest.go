// Package hubtest makes the hubs that the tests of the batch jobs run
// against, and compares what they write with golden files. It is an
// ordinary package, imported only by _test.go files: nothing the hub runs
// depends on it.
//
// A hub is a data directory made as cpis init makes one (datadir.Init), from
// the repository's testdata/authorities.csv and testdata/demographics.csv
// unless a test gives others, with its store opened without fsync (NoSync:
// tests only) and closed when the test ends. Golden files live under the
// repository's testdata; go test -update rewrites them, and the diff is
// then reviewed.
package hubtest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cpis/batch/datadir"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/plans"
)

// File is a reference file: its name (for messages and the audit) and its
// content.
type File struct {
	Name string
	Data []byte
}

// Options say what a hub holds when it is made.
type Options struct {
	// Authorities is the authorities file the hub is made from; nil means
	// testdata/authorities.csv (153 LAs).
	Authorities *File
	// LAs are the codes of the authorities the hub serves, among those of
	// the file; none means all of them.
	LAs []string
	// Mailboxes are the codes of the LAs given a mailbox; none means every
	// LA. Making 153 mailboxes takes longer than most tests on a slow file
	// system, so a test that needs only a few names them.
	Mailboxes []string
	// Demographics is the demographics reference imported at Created; nil
	// means testdata/demographics.csv.
	Demographics *File
	// NoDemographics makes a hub without a demographics reference.
	NoDemographics bool
	// Created is when the hub is made: the store's creation time and the
	// time of the imports.
	Created time.Time
	// Plans are held from the start.
	Plans []plans.Plan
}

// Hub is a data directory and its open store.
type Hub struct {
	Dir string
	DB  *store.DB
}

// New makes a hub in a directory of t's and opens its store (NoSync) until
// t ends.
func New(t testing.TB, opts Options) *Hub {
	t.Helper()
	auth := opts.Authorities
	if auth == nil {
		auth = &File{Name: "authorities.csv", Data: ReadFile(t, Testdata("authorities.csv"))}
	}
	tmpl, err := templateOf(*auth, opts.LAs, opts.Created)
	if err != nil {
		t.Fatalf("hub template: %v", err)
	}
	dir := t.TempDir()
	if err := tmpl.copyTo(dir); err != nil {
		t.Fatalf("make hub: %v", err)
	}
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	h := &Hub{Dir: dir, DB: db}

	var las []store.Authority
	if err := db.View(func(tx *store.Tx) error {
		las, err = tx.Authorities()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, a := range las {
		codes[a.Code] = true
	}
	for _, c := range slices.Concat(opts.LAs, opts.Mailboxes) {
		if !codes[c] {
			t.Fatalf("make hub: LA %s is not among the hub's authorities (%s)", c, auth.Name)
		}
	}
	for _, a := range las {
		if len(opts.Mailboxes) == 0 || slices.Contains(opts.Mailboxes, a.Code) {
			if err := local.Open(dir, a.MailboxID).Create(); err != nil {
				t.Fatalf("make hub: %v", err)
			}
		}
	}
	if !opts.NoDemographics {
		ref := opts.Demographics
		if ref == nil {
			ref = &File{Name: "demographics.csv", Data: ReadFile(t, Testdata("demographics.csv"))}
		}
		h.ImportDemographics(t, *ref, opts.Created)
	}
	h.PutPlans(t, opts.Plans...)
	return h
}

// ImportDemographics replaces the hub's demographics reference with f, as
// cpis pds import does at instant at.
func (h *Hub) ImportDemographics(t testing.TB, f File, at time.Time) {
	t.Helper()
	if _, err := datadir.ImportDemographics(h.DB, datadir.Source{Name: f.Name, R: bytes.NewReader(f.Data)}, at); err != nil {
		t.Fatalf("import demographics %s: %v", f.Name, err)
	}
}

// PutPlans stores ps as they are, as if returns had been applied.
func (h *Hub) PutPlans(t testing.TB, ps ...plans.Plan) {
	t.Helper()
	if len(ps) == 0 {
		return
	}
	if err := h.DB.Update(func(tx *store.Tx) error {
		for _, p := range ps {
			if err := tx.PutPlan(p); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("put plans: %v", err)
	}
}

// Mailbox returns the mailbox of the LA with code la.
func (h *Hub) Mailbox(la string) *local.Mailbox { return local.Open(h.Dir, mesh.MailboxID(la)) }

// Outboxes returns every file in every outbox of the hub, by name (a name
// carries its LA's code), with its content.
func (h *Hub) Outboxes(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(h.Dir, "mailboxes", "*", "outbox", "*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range paths {
		name := filepath.Base(p)
		if _, dup := out[name]; dup {
			t.Fatalf("%s is in two outboxes", name)
		}
		out[name] = string(ReadFile(t, p))
	}
	return out
}

// Send puts the return at path into its LA's inbox (the LA named by the
// file name) with a well-formed control file whose DTSId is messageID, as
// an LA's upload does.
func (h *Hub) Send(t testing.TB, path, messageID string) {
	t.Helper()
	name := filepath.Base(path)
	parts := strings.Split(name, "_")
	if len(parts) < 2 {
		t.Fatalf("send %s: not named CPIS_<LA>_...", name)
	}
	mb := h.Mailbox(parts[1])
	if _, err := mb.Send(path, Control(mb.ID(), name, messageID)); err != nil {
		t.Fatalf("send %s: %v", name, err)
	}
}

// Control is the well-formed control file of the return called name sent
// from mailbox with the DTSId messageID.
func Control(mailbox, name, messageID string) mesh.Control {
	return mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: mailbox, To: mesh.HubMailbox,
		Subject: "CP-IS return", LocalID: name, DTSID: messageID, WorkflowID: mesh.WorkflowUpload,
		IsCompressed: strings.HasSuffix(strings.ToLower(name), ".gz")}
}

// Authorities returns testdata/authorities.csv cut down to its header and
// the lines of the LAs with the given codes.
func Authorities(t testing.TB, codes ...string) []byte {
	t.Helper()
	return cutAuthorities(ReadFile(t, Testdata("authorities.csv")), codes)
}

// cutAuthorities returns the header of the authorities file all and its
// lines of the LAs with the given codes; all of it when there are none.
func cutAuthorities(all []byte, codes []string) []byte {
	if len(codes) == 0 {
		return all
	}
	var b bytes.Buffer
	for i, line := range strings.SplitAfter(string(all), "\n") {
		code, _, _ := strings.Cut(line, ",")
		if i == 0 || slices.Contains(codes, code) {
			b.WriteString(line)
		}
	}
	return b.Bytes()
}

// ReadFile returns the content of the file at path, or ends t.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A template is a data dir made by datadir.Init once per process for each
// authorities file, set of LAs and creation time, held in memory without
// its mailboxes: a hub is a copy of it, with the mailboxes it asks for.
type template struct {
	once  sync.Once
	err   error
	dirs  []string          // relative, parents first
	files map[string][]byte // relative path -> content
	modes map[string]os.FileMode
}

var templates struct {
	mu sync.Mutex
	m  map[string]*template
}

func templateOf(auth File, las []string, created time.Time) (*template, error) {
	auth.Data = cutAuthorities(auth.Data, las)
	key := fmt.Sprintf("%s %x@%d", auth.Name, sha256.Sum256(auth.Data), created.UnixNano())
	templates.mu.Lock()
	if templates.m == nil {
		templates.m = map[string]*template{}
	}
	tmpl := templates.m[key]
	if tmpl == nil {
		tmpl = &template{}
		templates.m[key] = tmpl
	}
	templates.mu.Unlock()
	tmpl.once.Do(func() { tmpl.err = tmpl.make(auth, created) })
	return tmpl, tmpl.err
}

func (tmpl *template) make(auth File, created time.Time) error {
	dir, err := os.MkdirTemp("", "cpis-hubtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := datadir.Init(dir, datadir.InitOptions{
		Authorities: datadir.Source{Name: auth.Name, R: bytes.NewReader(auth.Data)}, Now: created}); err != nil {
		return err
	}
	tmpl.files, tmpl.modes = map[string][]byte{}, map[string]os.FileMode{}
	// A mailbox's folders (under mailboxes and archive) are made per hub.
	perMailbox := map[string]bool{filepath.Join(dir, "mailboxes"): true, filepath.Join(dir, "archive"): true}
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		if d.IsDir() && perMailbox[filepath.Dir(path)] {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		tmpl.modes[rel] = info.Mode().Perm()
		if d.IsDir() {
			tmpl.dirs = append(tmpl.dirs, rel)
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", rel)
		}
		tmpl.files[rel], err = os.ReadFile(path)
		return err
	})
}

func (tmpl *template) copyTo(dir string) error {
	for _, rel := range tmpl.dirs {
		if err := os.Mkdir(filepath.Join(dir, rel), tmpl.modes[rel]); err != nil {
			return err
		}
	}
	for rel, b := range tmpl.files {
		if err := writeSparse(filepath.Join(dir, rel), b, tmpl.modes[rel]); err != nil {
			return err
		}
	}
	return nil
}

// writeSparse writes b to a new file at path, leaving holes for its pages
// of zeros: the store file grows in steps of 16 MiB and is mostly zeros,
// which a test need not write.
func writeSparse(path string, b []byte, perm os.FileMode) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	const page = 4096
	zeros := make([]byte, page)
	for off := 0; off < len(b); off += page {
		p := b[off:min(off+page, len(b))]
		if bytes.Equal(p, zeros[:len(p)]) {
			continue
		}
		if _, err := f.WriteAt(p, int64(off)); err != nil {
			return err
		}
	}
	return f.Truncate(int64(len(b)))
}
