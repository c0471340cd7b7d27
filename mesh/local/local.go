// Package local implements the hub's mailboxes as folders on its own disk,
// the embedded default of mesh/mailboxes.md ("On disk"):
//
//	<root>/mailboxes/<MAILBOX ID>/inbox    returns the LA puts in
//	<root>/mailboxes/<MAILBOX ID>/outbox   messages the LA collects
//	<root>/archive/<MAILBOX ID>/in         returns taken, as <message ID>_<name>
//	<root>/archive/<MAILBOX ID>/out        messages uncollected for 30 days
//
// inbox and outbox are named from the hub's side. The SFTP server and the
// remote pull and push jobs read and write the same folders; ingest lists
// the inbox, archives what it takes and delivers the response to the
// outbox. A single process owns a mailbox tree at a time (the store's lock
// guarantees it): the checks before a rename are not guarded against a
// second writer.
package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cpis/mesh"
)

// Permissions of what the hub creates.
const (
	dirPerm  fs.FileMode = 0o750
	filePerm fs.FileMode = 0o640
)

// StaleControlAge is how long a control file without a data file stays in
// the inbox before StaleControls reports it.
const StaleControlAge = time.Hour

// Mailbox is one LA's mailbox in the local folders.
type Mailbox struct {
	root string
	id   string
}

// Open returns the mailbox mailboxID under the data directory root. IDs
// are upper case on disk (they compare case-insensitively), so Open
// upper-cases mailboxID. It touches nothing on disk: see Create.
func Open(root, mailboxID string) *Mailbox {
	return &Mailbox{root: root, id: strings.ToUpper(mailboxID)}
}

// ID returns the mailbox ID.
func (m *Mailbox) ID() string { return m.id }

// InboxDir returns the folder the LA puts returns into.
func (m *Mailbox) InboxDir() string { return filepath.Join(m.root, "mailboxes", m.id, "inbox") }

// OutboxDir returns the folder the LA collects messages from.
func (m *Mailbox) OutboxDir() string { return filepath.Join(m.root, "mailboxes", m.id, "outbox") }

// ArchiveInDir returns the folder of returns taken from the inbox.
func (m *Mailbox) ArchiveInDir() string { return filepath.Join(m.root, "archive", m.id, "in") }

// ArchiveOutDir returns the folder of messages left uncollected.
func (m *Mailbox) ArchiveOutDir() string { return filepath.Join(m.root, "archive", m.id, "out") }

// Create makes the mailbox's folders (inbox, outbox, archive in and out)
// where they are missing. It refuses an ID that is not letters and digits,
// which could otherwise name a folder outside root.
func (m *Mailbox) Create() error {
	if !validID(m.id) {
		return fmt.Errorf("create mailbox %q: mailbox ID must be letters and digits", m.id)
	}
	for _, d := range []string{m.InboxDir(), m.OutboxDir(), m.ArchiveInDir(), m.ArchiveOutDir()} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return fmt.Errorf("create mailbox %s: %w", m.id, err)
		}
	}
	return nil
}

func validID(id string) bool {
	if id == "" {
		return false
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Incoming is a data file in the inbox that ingest may take.
type Incoming struct {
	Name        string // the data file's name
	Path        string
	Size        int64
	ModTime     time.Time
	ControlName string // its control file's name; "" when none
	ControlPath string
	// Problem, when not empty, is a pairing problem that makes the message
	// CPF01/F002, e.g. two data files that share one control file.
	Problem string
}

// list returns the regular files of dir that are not work in progress,
// data and control files, sorted by name. Symbolic links, folders and
// anything else are left out.
func list(dir string) ([]mesh.FolderFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []mesh.FolderFile
	for _, de := range des {
		name := de.Name()
		if mesh.IsTempName(name) || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info() // lstat: a symlink stays a symlink
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone since ReadDir (collected, renamed)
		}
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		out = append(out, mesh.FolderFile{Name: name, Size: info.Size(), ModTime: info.ModTime()})
	}
	return out, nil // ReadDir sorts by name
}

// Incoming lists the data files of the inbox that are ready to take,
// sorted by name. realNow is the real clock, whatever --now says.
//
// Work in progress (names starting "." or ending .filepart, .part or
// .tmp), folders, symbolic links and control files are never returned. A
// data file is ready once its control file (mesh.ControlName, the .ctl
// extension in any case) is there, or without one once it has settled
// (mesh.Settled): the rule of mesh.Pair and mesh.Message.Ready. Data files
// that share one control file are returned together, each with Problem
// set and no control file (neither owns it; once both are archived it
// goes stale), when the control file is there or all of them have
// settled.
func (m *Mailbox) Incoming(realNow time.Time) ([]Incoming, error) {
	files, err := list(m.InboxDir())
	if err != nil {
		return nil, fmt.Errorf("list inbox %s: %w", m.id, err)
	}
	msgs, _ := mesh.Pair(files)
	var ready []Incoming
	for _, msg := range msgs {
		if !msg.Ready(realNow) {
			continue
		}
		if len(msg.Data) > 1 {
			names := make([]string, len(msg.Data))
			for i, d := range msg.Data {
				names[i] = d.Name
			}
			for _, d := range msg.Data {
				in := m.incoming(d)
				in.Problem = fmt.Sprintf("data files %s share one control file", strings.Join(names, ", "))
				ready = append(ready, in)
			}
			continue
		}
		in := m.incoming(msg.Data[0])
		if c := msg.Control; c != nil {
			in.ControlName = c.Name
			in.ControlPath = filepath.Join(m.InboxDir(), c.Name)
		}
		ready = append(ready, in)
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	return ready, nil
}

func (m *Mailbox) incoming(d mesh.FolderFile) Incoming {
	return Incoming{
		Name:    d.Name,
		Path:    filepath.Join(m.InboxDir(), d.Name),
		Size:    d.Size,
		ModTime: d.ModTime,
	}
}

// StaleControls returns the control files of the inbox that pair with no
// data file and were last modified more than StaleControlAge before
// realNow, sorted by name.
func (m *Mailbox) StaleControls(realNow time.Time) ([]string, error) {
	files, err := list(m.InboxDir())
	if err != nil {
		return nil, fmt.Errorf("list inbox %s: %w", m.id, err)
	}
	_, lone := mesh.Pair(files)
	var stale []string
	for _, c := range lone {
		if c.ModTime.Before(realNow.Add(-StaleControlAge)) {
			stale = append(stale, c.Name)
		}
	}
	return stale, nil
}

// ArchiveStaleControl moves the control file name, which pairs with no data
// file, from the inbox to the archive's in folder as <messageID>_<name>
// (the layout of every archived message), numbered like Archive when the
// name is taken.
func (m *Mailbox) ArchiveStaleControl(name, messageID string) error {
	if !mesh.IsPlainName(name) || !mesh.IsControlName(name) || mesh.IsTempName(name) {
		return fmt.Errorf("archive stale control %q: not a control file name", name)
	}
	if !mesh.ValidMessageID(messageID) {
		return fmt.Errorf("archive stale control %s: %q is not a message ID", name, messageID)
	}
	if _, err := m.move(name, messageID+"_"+name); err != nil {
		return fmt.Errorf("archive stale control %s: %w", name, err)
	}
	if err := mesh.SyncDir(m.InboxDir(), m.ArchiveInDir()); err != nil {
		return fmt.Errorf("archive stale control %s: %w", name, err)
	}
	return nil
}

// ArchivedPath returns where Archive puts the inbox file name of message
// messageID when that name is free: archive/<ID>/in/<messageID>_<name>.
func (m *Mailbox) ArchivedPath(messageID, name string) string {
	return filepath.Join(m.ArchiveInDir(), messageID+"_"+name)
}

// Archive moves a taken message from the inbox to the archive's in folder,
// as <messageID>_<name> for the data file and <messageID>_<control name>
// for its control file, and returns their paths (ctlPath is "" without a
// control file). Nothing in the archive is overwritten: a name taken gets
// .1, .2, ... before its last extension (x.csv.gz becomes x.csv.1.gz). Both
// folders are fsynced.
//
// Archive can be called again after a crash: a file no longer in the inbox
// whose archive name exists counts as archived, and its path (the highest
// number used, which is the latest) is returned.
func (m *Mailbox) Archive(in Incoming, messageID string) (dataPath, ctlPath string, err error) {
	if !mesh.ValidMessageID(messageID) {
		return "", "", fmt.Errorf("archive %s: %q is not a message ID", in.Name, messageID)
	}
	if !mesh.IsPlainName(in.Name) || (in.ControlName != "" && !mesh.IsPlainName(in.ControlName)) {
		return "", "", fmt.Errorf("archive %q: not a plain file name", in.Name)
	}
	dataPath, err = m.move(in.Name, messageID+"_"+in.Name)
	if err != nil {
		return "", "", fmt.Errorf("archive %s: %w", in.Name, err)
	}
	if in.ControlName != "" {
		ctlPath, err = m.move(in.ControlName, messageID+"_"+in.ControlName)
		if err != nil {
			return "", "", fmt.Errorf("archive %s: %w", in.ControlName, err)
		}
	}
	// Both moves are made durable together: a crash before this leaves
	// each file in the inbox or in the archive, and a repeated Archive
	// finishes either.
	if err := mesh.SyncDir(m.InboxDir(), m.ArchiveInDir()); err != nil {
		return "", "", fmt.Errorf("archive %s: %w", in.Name, err)
	}
	return dataPath, ctlPath, nil
}

// move renames the inbox file name to the archive's in folder as dest (or
// its first free numbered variant), leaving both folders to be fsynced by
// the caller. When name has already left the inbox, it returns the latest
// existing variant of dest, or an error wrapping fs.ErrNotExist.
func (m *Mailbox) move(name, dest string) (string, error) {
	src := filepath.Join(m.InboxDir(), name)
	dir := m.ArchiveInDir()
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		last := ""
		for i := 0; ; i++ {
			p := filepath.Join(dir, numbered(dest, i))
			if _, err := os.Lstat(p); err != nil {
				break
			}
			last = p
		}
		if last == "" {
			return "", fmt.Errorf("neither in the inbox nor archived: %w", fs.ErrNotExist)
		}
		// The crash may have come between the rename and the fsyncs,
		// which the caller makes.
		return last, nil
	} else if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return "", err
	}
	for i := 0; ; i++ {
		p := filepath.Join(dir, numbered(dest, i))
		if _, err := os.Lstat(p); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := os.Rename(src, p); err != nil {
			return "", err
		}
		return p, nil
	}
}

// numbered returns name for n == 0, else name with "."+n inserted before
// its last extension: x.csv.gz, 2 gives x.csv.2.gz; x, 1 gives x.1.
func numbered(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := filepath.Ext(name)
	return fmt.Sprintf("%s.%d%s", name[:len(name)-len(ext)], n, ext)
}

// Deliver writes a message into the outbox: the data file name (filled by
// write), then its control file (mesh.ControlName), each atomically, so a
// collector that waits for the .ctl finds a whole data file. If write
// fails, nothing new is in the outbox. Writing the same name again replaces
// it, which is how recovery rewrites a response it had started.
func (m *Mailbox) Deliver(name string, write func(io.Writer) error, ctl mesh.Control) error {
	if !mesh.IsPlainName(name) || mesh.IsTempName(name) || mesh.IsControlName(name) {
		return fmt.Errorf("deliver %q: not a data file name", name)
	}
	if err := mesh.WriteFilesAtomic(m.OutboxDir(), filePerm, mesh.FileWrite{Name: name, Write: write},
		mesh.FileWrite{Name: mesh.ControlName(name), Write: writeBytes(ctl.Marshal())}); err != nil {
		return fmt.Errorf("deliver to %s: %w", m.id, err)
	}
	return nil
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

// ErrExists reports a file that Send will not replace.
var ErrExists = errors.New("already in the inbox")

// ExistsError is the refusal of a data file whose name, or whose control
// file's name, another message holds in the inbox. It wraps ErrExists.
// Two data files whose names differ only in their extension
// (CPIS_841_DELTA_20261204.csv and .xlsx) share one control file
// (mesh.ControlName), so the second is refused while the first waits.
type ExistsError struct {
	Op   string // "send" or "receive"
	Name string // the data file refused
	// Held is the inbox file in the way: Name itself, or its control file.
	Held string
	// Other is the data file waiting in the inbox whose control file is
	// Held, when Held is a control file and that file is there ("" when
	// none is).
	Other string
}

func (e *ExistsError) Error() string {
	switch {
	case e.Held == e.Name:
		return fmt.Sprintf("%s %s: %v", e.Op, e.Name, ErrExists)
	case e.Other != "":
		return fmt.Sprintf("%s %s: its control file %s is that of %s, waiting: %v", e.Op, e.Name, e.Held, e.Other, ErrExists)
	}
	return fmt.Sprintf("%s %s: its control file %s: %v", e.Op, e.Name, e.Held, ErrExists)
}

// Unwrap returns ErrExists.
func (e *ExistsError) Unwrap() error { return ErrExists }

// existsError is the ExistsError of name, held by the inbox file held,
// with the data file that shares its control file when held is one.
func (m *Mailbox) existsError(op, name, held string) error {
	e := &ExistsError{Op: op, Name: name, Held: held}
	if held != name {
		if waiting, err := files(m.InboxDir()); err == nil {
			for _, f := range waiting {
				if f.Name != name && mesh.ControlName(f.Name) == held {
					e.Other = f.Name
					break
				}
			}
		}
	}
	return e
}

// Send puts the file at srcPath into the inbox under its base name, then
// its control file, each atomically, as an LA's MESH client would (cpis
// mailbox send), and returns the inbox name. It refuses, with an error
// wrapping ErrExists (an *ExistsError), when the inbox already has that
// name or its control file's, and refuses names the inbox would never read.
func (m *Mailbox) Send(srcPath string, ctl mesh.Control) (string, error) {
	name := filepath.Base(srcPath)
	if !mesh.IsPlainName(name) || mesh.IsTempName(name) || mesh.IsControlName(name) {
		return "", fmt.Errorf("send %q: not a data file name", name)
	}
	ctlName := mesh.ControlName(name)
	for _, n := range []string{name, ctlName} {
		if _, err := os.Lstat(filepath.Join(m.InboxDir(), n)); err == nil {
			return "", m.existsError("send", name, n)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("send %s: %w", name, err)
		}
	}
	src, err := os.Open(srcPath)
	if err != nil {
		return "", fmt.Errorf("send %s: %w", name, err)
	}
	defer src.Close()
	if info, err := src.Stat(); err != nil {
		return "", fmt.Errorf("send %s: %w", name, err)
	} else if !info.Mode().IsRegular() {
		return "", fmt.Errorf("send %s: not a regular file", name)
	}
	copyFile := func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	}
	if err := mesh.WriteFilesAtomic(m.InboxDir(), filePerm, mesh.FileWrite{Name: name, Write: copyFile},
		mesh.FileWrite{Name: ctlName, Write: writeBytes(ctl.Marshal())}); err != nil {
		return "", fmt.Errorf("send to %s: %w", m.id, err)
	}
	return name, nil
}

// OutFile is a data file in a mailbox folder, as cpis mailbox list shows
// it.
type OutFile struct {
	Name       string
	Size       int64
	ModTime    time.Time
	HasControl bool // its control file is there
}

// Outbox lists the data files of the outbox, sorted by name: never control
// files, work in progress, folders or symbolic links.
func (m *Mailbox) Outbox() ([]OutFile, error) {
	list, err := files(m.OutboxDir())
	if err != nil {
		return nil, fmt.Errorf("list outbox %s: %w", m.id, err)
	}
	return list, nil
}

// InboxFiles lists the data files of the inbox, sorted by name, including
// those not yet settled; like Outbox, never control files, work in
// progress, folders or symbolic links.
func (m *Mailbox) InboxFiles() ([]OutFile, error) {
	list, err := files(m.InboxDir())
	if err != nil {
		return nil, fmt.Errorf("list inbox %s: %w", m.id, err)
	}
	return list, nil
}

func files(dir string) ([]OutFile, error) {
	all, err := list(dir)
	if err != nil {
		return nil, err
	}
	msgs, _ := mesh.Pair(all)
	out := []OutFile{}
	for _, msg := range msgs {
		for _, d := range msg.Data {
			out = append(out, OutFile{Name: d.Name, Size: d.Size, ModTime: d.ModTime, HasControl: msg.Control != nil})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
