package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cpis/batch/returns"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/codes"
)

// candidate is an incoming message before it is taken.
type candidate struct {
	in        local.Incoming
	name      returns.Name
	named     bool // the file name parsed
	problem   *codes.Problem
	sha       string
	sum       [32]byte // the SHA-256 sha is the hex of
	messageID string
	// fromControl says messageID is the DTSId of the control file, not
	// derived: only such an ID makes a repeat by itself (batch/returns/returns.md).
	fromControl bool
}

// takeNew takes the LA's waiting returns in order: unparseable names
// first, then extract date, FULL before DELTA, then message ID.
func (l *laRun) takeNew(ctx context.Context) error {
	ready, err := l.mb.Incoming(l.cfg.RealNow())
	if err != nil {
		return fmt.Errorf("list inbox of %s: %w", l.la.MailboxID, err)
	}
	cands := make([]*candidate, 0, len(ready))
	for _, in := range ready {
		c, err := l.prepare(in)
		if err != nil {
			return err
		}
		cands = append(cands, c)
	}
	l.distinctDerivedIDs(cands)
	sort.SliceStable(cands, func(i, j int) bool { return before(cands[i], cands[j]) })

	held, err := l.heldReturn()
	if err != nil {
		return err
	}
	taken := map[*candidate]bool{}
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return err
		}
		if taken[c] {
			continue
		}
		// A return refused anyway (c.problem) is answered now; only a
		// well-formed DELTA waits.
		if c.named && c.problem == nil && waitsBehind(c.name, held) {
			l.cfg.Log.Info("DELTA waits behind a held FULL return", "la", l.la.Code, "file", c.in.Name, "held", held.MessageID)
			continue
		}
		group := l.sharingControl(c, cands)
		ms, err := l.take(group)
		if err != nil {
			return err
		}
		for i, m := range ms {
			taken[group[i]] = true
			if err := l.process(ctx, m); err != nil {
				return err
			}
			if m.State == store.Held {
				held = m
			} else if held != nil && m.Applied && m.Kind == string(returns.Full) && m.Extract.After(held.Extract) {
				held = nil // discarded (F011) in the transaction that applied m
			}
		}
	}
	return nil
}

// sharingControl returns c with every other candidate that would share its
// control file: they are taken in one transaction, so a crash between them
// can never leave one alone with the control file and make it look whole.
// The control file itself goes to the archive with the first of them.
func (l *laRun) sharingControl(c *candidate, cands []*candidate) []*candidate {
	if c.in.Problem == "" {
		return []*candidate{c}
	}
	ctl := mesh.ControlName(c.in.Name)
	var group []*candidate
	for _, o := range cands {
		if o.in.Problem != "" && mesh.ControlName(o.in.Name) == ctl {
			group = append(group, o)
		}
	}
	if entries, err := os.ReadDir(l.mb.InboxDir()); err == nil {
		for _, e := range entries {
			if e.Type().IsRegular() && strings.EqualFold(e.Name(), ctl) {
				group[0].in.ControlName = e.Name()
				group[0].in.ControlPath = filepath.Join(l.mb.InboxDir(), e.Name())
				break
			}
		}
	}
	return group
}

func before(a, b *candidate) bool {
	if a.named != b.named {
		return !a.named
	}
	if !a.named {
		return a.in.Name < b.in.Name
	}
	return appliedBefore(a.name.Extract, string(a.name.Kind), a.messageID, b.name.Extract, string(b.name.Kind), b.messageID)
}

// distinctDerivedIDs gives each candidate without a control file's ID an
// ID no other file has (mesh.DistinctDerivedMessageID): two returns with
// the same content and modification time derive the same one. In inbox
// order, so that a run after a crash gives each file the ID it got before.
func (l *laRun) distinctDerivedIDs(cands []*candidate) {
	given := map[string]string{} // ID -> file, in this run
	for _, c := range cands {
		if c.fromControl {
			continue
		}
		c.messageID = mesh.DistinctDerivedMessageID(c.in.Name, c.in.ModTime, c.sum, func(id string) bool {
			if f, ok := given[id]; ok {
				return f != c.in.Name
			}
			var prev *store.Message
			var found bool
			err := l.cfg.DB.View(func(tx *store.Tx) (err error) { prev, found, err = tx.MessageByID(l.la.Code, id); return err })
			return err == nil && found && prev.File != c.in.Name
		})
		given[c.messageID] = c.in.Name
	}
}

// heldReturn returns the LA's held FULL return, if any.
func (l *laRun) heldReturn() (*store.Message, error) {
	open, err := l.openMessages()
	if err != nil {
		return nil, err
	}
	return latestHeld(open), nil
}

// prepare reads what is needed to take in: its name, control file and
// content hash, and the first problem of the checks that come before the
// store is consulted (size, name and control file, LA).
func (l *laRun) prepare(in local.Incoming) (*candidate, error) {
	c := &candidate{in: in}
	gz := strings.HasSuffix(strings.ToLower(in.Name), ".gz")
	name, nameErr := returns.ParseName(in.Name)
	if nameErr == nil {
		c.name, c.named, gz = name, true, name.Gzip
	}

	sum, seps, err := l.hash(in.Path, gz)
	if err != nil {
		return nil, err
	}
	c.sha, c.sum = hex.EncodeToString(sum[:]), sum
	if seps != nil {
		l.keepSeparators(c.sha, *seps)
	}
	c.messageID = mesh.DerivedMessageID(in.ModTime, sum)

	var ctlProblem string
	if in.ControlPath != "" && in.Problem == "" {
		ctl, err := readControl(in.ControlPath)
		switch {
		case err != nil:
			ctlProblem = fmt.Sprintf("control file %s is not a DTSControl file: %v", in.ControlName, err)
		default:
			if err := ctl.CheckIncoming(l.la.MailboxID, gz); err != nil {
				ctlProblem = fmt.Sprintf("control file %s: %v", in.ControlName, err)
			} else {
				c.messageID, c.fromControl = ctl.DTSID, true
			}
		}
	}

	c.problem = l.refusal(in.Name, in.Size, name, nameErr, in.Problem, ctlProblem)
	if in.Problem != "" {
		// Neither data file of a shared control file may take it.
		c.in.ControlName, c.in.ControlPath = "", ""
	}
	return c, nil
}

// refusal returns the first problem of the checks that come before the
// store is consulted (size, name, mailbox and control file, LA) for the
// data file named file of size bytes, or nil: name and nameErr are what
// returns.ParseName made of file, inboxProblem what the mailbox found
// (local.Incoming.Problem), ctlProblem what is wrong with its control file.
func (l *laRun) refusal(file string, size int64, name returns.Name, nameErr error, inboxProblem, ctlProblem string) *codes.Problem {
	switch {
	case size > l.cfg.SizeLimit:
		return &codes.Problem{Detail: codes.F006, Text: fmt.Sprintf("%s is %d bytes, over the size limit of %d bytes: nothing was applied.", file, size, l.cfg.SizeLimit)}
	case nameErr != nil:
		return &codes.Problem{Detail: codes.F002, Text: nameErr.Error() + ": nothing was applied."}
	case inboxProblem != "":
		return &codes.Problem{Detail: codes.F002, Text: inboxProblem + ": nothing was applied."}
	case ctlProblem != "":
		return &codes.Problem{Detail: codes.F002, Text: ctlProblem + ": nothing was applied."}
	case name.LA != l.la.Code:
		return &codes.Problem{Detail: codes.F003, Text: fmt.Sprintf("%s names LA %s but arrived in the mailbox of LA %s (%s): nothing was applied.", file, name.LA, l.la.Code, l.la.MailboxID)}
	}
	return nil
}

// hash returns the SHA-256 of the decompressed content, with the
// separators counted in it (for rowBound), or of the stored bytes (at most
// the size limit of them, and no count) when they cannot be decompressed
// within the limit (the outcome then comes from reading the file).
func (l *laRun) hash(path string, gz bool) ([32]byte, *separators, error) {
	h := sha256.New()
	seps := &separators{}
	r, err := local.OpenData(path, gz, l.cfg.SizeLimit)
	if err == nil {
		_, err = io.Copy(io.MultiWriter(h, seps), r)
		r.Close()
	}
	if err == nil {
		return [32]byte(h.Sum(nil)), seps, nil
	}
	if !errors.Is(err, mesh.ErrTooLarge) && !errors.Is(err, mesh.ErrNotGzip) {
		return [32]byte{}, nil, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h.Reset()
	// A file stored over the limit is refused (F006) having been read no
	// further than the limit: its ID comes from that much of it.
	if _, err := io.Copy(h, io.LimitReader(f, l.cfg.SizeLimit)); err != nil {
		return [32]byte{}, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return [32]byte(h.Sum(nil)), nil, nil
}

// separators counts the line ends, tag starts and bytes of content
// written to it: what bounds the rows of a CSV or XML return and its
// memory (rowBound).
type separators struct{ lines, tags, bytes int64 }

func (s *separators) Write(p []byte) (int, error) {
	s.lines += int64(bytes.Count(p, []byte{'\n'}))
	s.tags += int64(bytes.Count(p, []byte{'<'}))
	s.bytes += int64(len(p))
	return len(p), nil
}

// keepSeparators remembers the separators counted in the content with
// hash sha, until its return is decided.
func (l *laRun) keepSeparators(sha string, s separators) {
	if l.seps == nil {
		l.seps = map[string]separators{}
	}
	l.seps[sha] = s
}

func readControl(path string) (mesh.Control, error) {
	f, err := os.Open(path)
	if err != nil {
		return mesh.Control{}, err
	}
	defer f.Close()
	return mesh.ParseControl(f)
}

// take records the candidates as taken (the first step of their
// lifecycle) in one transaction, each with the repeat check against every
// message taken before from this mailbox.
func (l *laRun) take(group []*candidate) ([]*store.Message, error) {
	now := l.cfg.Now().UTC()
	ms := make([]*store.Message, len(group))
	for i, c := range group {
		ms[i] = &store.Message{
			LA: l.la.Code, MailboxID: l.la.MailboxID, MessageID: c.messageID,
			File: c.in.Name, Control: c.in.ControlName, SHA256: c.sha, Size: c.in.Size,
			TakenAt: now, State: store.Taken, Problem: c.problem,
		}
		if c.named {
			ms[i].Kind, ms[i].Extract = string(c.name.Kind), c.name.Extract
		}
	}
	err := l.write(func(tx *store.Tx) error {
		for i, c := range group {
			m := ms[i]
			if m.Problem == nil {
				var prev *store.Message
				var found bool
				var err error
				if c.fromControl {
					if prev, found, err = tx.MessageByID(l.la.Code, c.messageID); err != nil {
						return err
					}
				}
				if !found {
					prev, found, err = tx.MessageByContent(l.la.Code, c.in.Name, c.sha)
					if err != nil {
						return err
					}
				}
				if found {
					m.Problem = repeatProblem(c.in.Name, prev)
				}
			}
			if err := tx.NewMessage(m); err != nil {
				return err
			}
			if err := tx.Audit(store.AuditEvent{At: now, Action: "message.taken", LA: m.LA, MessageID: m.MessageID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take %s: %w", group[0].in.Name, err)
	}
	return ms, nil
}

// repeatProblem is the F007 of the file named file, a repeat of prev.
func repeatProblem(file string, prev *store.Message) *codes.Problem {
	return &codes.Problem{Detail: codes.F007, Text: fmt.Sprintf("%s repeats message %s (%s) taken on %s: nothing was applied.", file, prev.MessageID, prev.File, prev.TakenAt.Format("2006-01-02 15:04 MST"))}
}

// archive moves m's files from the inbox into the archive. It is safe to
// repeat after a crash.
func (l *laRun) archive(m *store.Message) error {
	in := local.Incoming{Name: m.File, Path: l.mb.InboxDir() + string(os.PathSeparator) + m.File}
	if m.Control != "" {
		in.ControlName = m.Control
		in.ControlPath = l.mb.InboxDir() + string(os.PathSeparator) + m.Control
	}
	data, ctl, err := l.mb.Archive(in, m.MessageID)
	if err != nil {
		return fmt.Errorf("archive %s: %w", m.File, err)
	}
	m.ArchivePath, m.ControlPath, m.State = data, ctl, store.Archived
	if err := l.write(func(tx *store.Tx) error { return tx.PutMessage(m) }); err != nil {
		return fmt.Errorf("record archive of %s: %w", m.File, err)
	}
	return nil
}
