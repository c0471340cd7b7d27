// Package datadir creates and opens a hub's data directory: the store, one
// mailbox per LA, the archive and the reports folder (mesh/mailboxes.md, "On
// disk"), and imports the reference files it starts from.
package datadir

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"cpis/store/demographics"

	"cpis/batch/pds"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/sftpd"
	"cpis/store"
)

// AuthoritiesHeader is the exact header of an authorities file (store/domain.md, "Local authorities and mailboxes").
const AuthoritiesHeader = "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone"

// ErrExists means init was asked to make a data dir that already holds one.
var ErrExists = errors.New("the data directory already holds a hub (use --force to import into it again)")

// LineError names the file, line and value at fault in a reference file.
type LineError struct {
	File  string
	Line  int
	Value string
	Msg   string
}

func (e *LineError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s line %d: %q %s", e.File, e.Line, e.Value, e.Msg)
}

var (
	mailboxID = regexp.MustCompile(`^[A-Za-z0-9]{1,20}$`)
	phone     = regexp.MustCompile(`^[0-9][0-9 ]{8,14}[0-9]$`)
)

// ReadAuthorities reads and checks an authorities file: the exact header,
// unique 3-digit LA codes, a name, an emergency-duty phone, and unique
// mailbox IDs (derived as LA<code>HC001 when empty).
func ReadAuthorities(r io.Reader, file string) ([]store.Authority, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: no header: %w", file, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	if got := strings.Join(header, ","); got != AuthoritiesHeader {
		return nil, &LineError{File: file, Line: 1, Value: got, Msg: "is not the header " + AuthoritiesHeader}
	}
	var out []store.Authority
	codes, boxes := map[string]int{}, map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(rec) != 7 {
			return nil, &LineError{File: file, Line: line, Msg: fmt.Sprintf("has %d fields, want 7", len(rec))}
		}
		for _, f := range rec {
			if !utf8.ValidString(f) {
				return nil, &LineError{File: file, Line: line, Msg: "is not UTF-8 text"}
			}
		}
		a := store.Authority{Code: rec[0], GSS: rec[1], Name: strings.TrimSpace(rec[2]), Region: rec[3],
			MailboxID: strings.ToUpper(strings.TrimSpace(rec[4])), EmergencyPhone: strings.TrimSpace(rec[5]), OfficePhone: strings.TrimSpace(rec[6])}
		switch {
		case !store.ValidLACode(a.Code):
			return nil, &LineError{File: file, Line: line, Value: a.Code, Msg: "is not a 3-digit LA code"}
		case codes[a.Code] != 0:
			return nil, &LineError{File: file, Line: line, Value: a.Code, Msg: fmt.Sprintf("repeats the LA code of line %d", codes[a.Code])}
		case a.Name == "":
			return nil, &LineError{File: file, Line: line, Msg: "name is empty"}
		case a.EmergencyPhone == "":
			return nil, &LineError{File: file, Line: line, Msg: "emergency_phone is required"}
		case !phone.MatchString(a.EmergencyPhone):
			return nil, &LineError{File: file, Line: line, Value: a.EmergencyPhone, Msg: "is not a phone number"}
		case a.OfficePhone != "" && !phone.MatchString(a.OfficePhone):
			return nil, &LineError{File: file, Line: line, Value: a.OfficePhone, Msg: "is not a phone number"}
		}
		if a.MailboxID == "" {
			a.MailboxID = mesh.MailboxID(a.Code)
		}
		if !mailboxID.MatchString(a.MailboxID) {
			return nil, &LineError{File: file, Line: line, Value: a.MailboxID, Msg: "is not a mailbox ID (letters and digits)"}
		}
		if boxes[a.MailboxID] != 0 {
			return nil, &LineError{File: file, Line: line, Value: a.MailboxID, Msg: fmt.Sprintf("repeats the mailbox ID of line %d", boxes[a.MailboxID])}
		}
		codes[a.Code], boxes[a.MailboxID] = line, line
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no authorities", file)
	}
	return out, nil
}

// Source is a reference file to import: its name (for messages) and content.
type Source struct {
	Name string
	R    io.Reader
}

// InitOptions say what Init imports.
type InitOptions struct {
	Authorities  Source
	Demographics *Source // optional
	// Force imports into a data dir that already holds a hub, keeping its
	// plans, messages and mailboxes.
	Force bool
	Now   time.Time
}

// ErrStoreLost means the data directory holds a hub's archive but no
// store: the store was lost, and a new empty one would answer "no alert"
// for every child the lost one knew.
var ErrStoreLost = errors.New("it holds a hub's archive but no cpis.db: restore the store from a backup; init --force makes a new, empty hub")

// holdsArchive reports whether dir's archive folder holds anything.
func holdsArchive(dir string) bool {
	des, err := os.ReadDir(filepath.Join(dir, "archive"))
	return err == nil && len(des) > 0
}

// Init makes a data directory: the store, the authorities, one mailbox per
// LA, the archive and reports folders, and (optionally) the demographics
// reference. A fresh init that fails leaves no store behind, so it can
// simply be run again; a new store holds the authorities from its first
// moment. An existing store that is empty or damaged (store.ErrDamaged) is
// refused, with or without Force, before anything changes: it is restored
// from a backup, or moved aside by the operator to make a new hub.
func Init(dir string, opts InitOptions) (err error) {
	las, err := ReadAuthorities(opts.Authorities.R, opts.Authorities.Name)
	if err != nil {
		return err
	}
	putAuthorities := func(tx *store.Tx) error {
		for _, a := range las {
			if err := tx.PutAuthority(a); err != nil {
				return err
			}
		}
		if _, _, err := tx.EnsureMeshKey(opts.Now); err != nil { // the MESH API's shared key
			return err
		}
		return tx.Audit(store.AuditEvent{At: opts.Now, Action: "authorities.imported", Counts: map[string]int{"authorities": len(las)}, Note: opts.Authorities.Name})
	}
	storePath := filepath.Join(dir, store.FileName)
	var db *store.DB
	if _, statErr := os.Lstat(storePath); statErr == nil {
		// Something is there (a link to a missing file too): it is opened,
		// checked and refused as it is, never removed.
		// Opening checks the file and changes nothing when it is refused.
		if db, err = store.Open(dir, store.Options{Now: opts.Now}); err != nil {
			return err
		}
		defer db.Close()
		if !opts.Force {
			return fmt.Errorf("init %s: %w", dir, ErrExists)
		}
		if err := db.Update(putAuthorities); err != nil {
			return fmt.Errorf("init %s: %w", dir, err)
		}
	} else {
		if !opts.Force && holdsArchive(dir) {
			return fmt.Errorf("init %s: %w", dir, ErrStoreLost)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("init %s: %w", dir, err)
		}
		if db, err = store.Open(dir, store.Options{Create: true, Now: opts.Now, Setup: putAuthorities}); err != nil {
			return err
		}
		// Only the store made here is removed when the rest fails.
		defer func() {
			if err != nil {
				os.Remove(storePath)
			}
		}()
		defer db.Close()
	}
	for _, sub := range []string{"mailboxes", "archive", "reports"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return fmt.Errorf("init %s: %w", dir, err)
		}
	}
	if _, err := sftpd.LoadOrCreateHostKey(dir); err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	for _, a := range las {
		if err := local.Open(dir, a.MailboxID).Create(); err != nil {
			return fmt.Errorf("init mailbox %s: %w", a.MailboxID, err)
		}
	}
	if opts.Demographics != nil {
		if _, err := ImportDemographics(db, *opts.Demographics, opts.Now); err != nil {
			return err
		}
	}
	return nil
}

// ImportDemographics replaces the demographics reference with the file's
// records in one transaction: any bad line fails the import and the
// previous reference stays.
func ImportDemographics(db *store.DB, src Source, now time.Time) (int, error) {
	n := 0
	err := db.Update(func(tx *store.Tx) error {
		err := tx.ReplaceDemographics(now, func(put func(demographics.Record) error) error {
			return pds.Read(src.R, src.Name, func(r demographics.Record) error { n++; return put(r) })
		})
		if err != nil {
			return err
		}
		return tx.Audit(store.AuditEvent{At: now, Action: "demographics.imported", Counts: map[string]int{"records": n}, Note: src.Name})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
