package console

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cpis/batch/meshstore"
	"cpis/batch/returns"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/meshapi"
	"cpis/store"
	"cpis/store/codes"
)

// laRoutes registers the pages of LA data teams. Every one works on the
// user's own LA only: nothing takes an LA code from the request.
func (s *Server) laRoutes() {
	s.handle("GET /la/{$}", RoleLA, s.laHome)
	s.handle("GET /la/check", RoleLA, s.laCheckForm)
	s.handle("POST /la/check", RoleLA, s.laCheck)
	s.handle("GET /la/send", RoleLA, s.laSendForm)
	s.handle("POST /la/send", RoleLA, s.laSend)
	s.handle("GET /la/returns", RoleLA, s.laReturns)
	s.handle("GET /la/returns/{id}", RoleLA, s.laReturn)
	s.handle("GET /la/collect", RoleLA, s.laCollect)
	s.handle("POST /la/collect", RoleLA, s.laCollected)
	s.handle("GET /la/files/{name}", RoleLA, s.laFile)
}

// authority returns the user's LA.
func (c *Ctx) authority() (store.Authority, error) {
	var a store.Authority
	err := c.s.opts.DB.View(func(tx *store.Tx) error {
		var ok bool
		var err error
		a, ok, err = tx.Authority(c.User.LA)
		if err == nil && !ok {
			err = fmt.Errorf("user %s: LA %q is not one of the hub's authorities", c.User.Email, c.User.LA)
		}
		return err
	})
	return a, err
}

// laHomeData is the LA home page's own data.
type laHomeData struct {
	LA        store.Authority
	ToCollect int // files in the outbox
	Waiting   int // returns in the inbox, not yet taken
}

func (s *Server) laHome(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	mb := local.Open(s.opts.DataDir, a.MailboxID)
	out, err := mb.Outbox()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	in, err := mb.InboxFiles()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return c.Render("la_home", a.Name, "home", laHomeData{LA: a, ToCollect: len(out), Waiting: len(in)})
}

// laSendData is the send page's own data.
type laSendData struct {
	LA store.Authority
}

func (s *Server) laSendForm(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	return c.Render("la_send", "Send a return", "send", laSendData{LA: a})
}

// laSend puts the uploaded return into the LA's inbox as a MESH upload
// does (meshstore.MeshAPI.Deliver: a new message ID, the DTSControl file,
// atomic and durable), then shows its message ID on the Returns page.
func (s *Server) laSend(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	again := func(status int, msg string) error {
		return c.RenderStatus(status, "la_send", view{Title: "Send a return", Section: "send",
			Errors: []FieldError{{Field: "file", Message: msg}}, Data: laSendData{LA: a}})
	}
	up, ok, err := s.receiveReturn(c, "send", again)
	if !ok {
		return err
	}
	if n, err := returns.ParseName(up.Name); err != nil {
		return again(http.StatusBadRequest, "The file name is not a return's: "+nameProblem(err)+". Name it CPIS_"+a.Code+"_FULL_YYYYMMDD or CPIS_"+a.Code+"_DELTA_YYYYMMDD, with the extension of its format")
	} else if n.LA != a.Code {
		return again(http.StatusBadRequest, fmt.Sprintf("The file is named for LA %s, but you send for LA %s: check you chose the right file", n.LA, a.Code))
	}
	id := mesh.NewMessageID(c.Now())
	env := meshapi.Envelope{ID: id, From: a.MailboxID, To: mesh.HubMailbox, Workflow: mesh.WorkflowUpload,
		FileName: up.Name, LocalID: up.Name}
	if err := s.mesh.Deliver(c.R.Context(), env, mesh.LimitReader(up.Body, s.opts.SizeLimit)); err != nil {
		switch {
		case errors.Is(err, errTooLarge):
			_ = c.Audit("la.send.refused", fmt.Sprintf("file=%s reason=size", mesh.Printable(up.Name)))
			return again(http.StatusRequestEntityTooLarge, tooLargeMessage(s.opts.SizeLimit))
		case errors.Is(err, local.ErrExists):
			return again(http.StatusConflict, existsMessage(err, up.Name))
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return again(http.StatusRequestEntityTooLarge, tooLargeMessage(s.opts.SizeLimit))
		}
		return fmt.Errorf("send %s: %w", mesh.Printable(up.Name), err)
	}
	if err := c.Audit("la.send", fmt.Sprintf("la=%s file=%s message_id=%s", a.Code, mesh.Printable(up.Name), id)); err != nil {
		return err
	}
	return c.Redirect("/la/returns?sent=" + url.QueryEscape(id))
}

// existsMessage is the error of a return the inbox refused because
// another waiting message holds its name or its control file's
// (local.ExistsError): what really clashes, from the refusal itself.
func existsMessage(err error, name string) string {
	const after = " Send it under another name (add _2 after the date), or wait for tonight's response"
	var e *local.ExistsError
	if !errors.As(err, &e) || e.Held == e.Name {
		return "A file called " + name + " is already waiting in your inbox for tonight's ingest." + after
	}
	if e.Other != "" {
		return "A return of the same name, " + e.Other + ", is already waiting in your inbox for tonight's ingest: " +
			name + " would share its control file " + e.Held + " (names that differ only in their extension cannot wait together)." + after
	}
	return "The control file " + e.Held + " of another message is already waiting in your inbox for tonight's ingest: " +
		name + " would share it." + after
}

// tooLargeMessage is the error of a file over the size limit. The limit
// applies to the file as sent and again to its content once decompressed
// (batch/returns/returns.md, "File checks"), so compressing it is no
// remedy; nor is splitting a FULL return, which withdraws every plan it
// does not name.
func tooLargeMessage(limit int64) string {
	return fmt.Sprintf("The file is larger than %s, the largest return the hub takes, as sent or once decompressed (compressing it does not help). "+
		"A return is a few thousand rows: check you exported the right data. If your return really is this large, ask the hub's operations team", humanBytes(limit))
}

func humanBytes(n int64) string { return funcs["bytes"].(func(int64) string)(n) }

// nameProblem is what is wrong with a return's name, from ParseName's
// error ("file name "x": problem").
func nameProblem(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// capital makes a message start with a capital letter.
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// returnRow is one line of the Returns page.
type returnRow struct {
	MessageID string
	// Taken says the hub took it (it has a page of its own).
	Taken bool
	File  string
	// Date is when the hub took it (zero while it waits in the inbox).
	Date    time.Time
	Sent    time.Time // when it reached the inbox, for those waiting
	Extract string
	Status  string // "Waiting for tonight's ingest", "Held", ...
	// StatusClass is the NHS.UK tag colour of the status.
	StatusClass string
	Outcome     *store.Outcome
	// Response is the response's file while it can be downloaded (in the
	// outbox), "" otherwise; ResponseNote says where it went.
	Response     string
	ResponseNote string
}

// laReturnsData is the Returns page's own data.
type laReturnsData struct {
	LA   store.Authority
	Rows []returnRow
	// Sent is the message ID just sent ("" when none).
	Sent string
	// More is how many older returns are not listed.
	More int
}

// maxReturnsListed bounds the returns taken that the Returns page lists,
// newest first (a year of daily DELTAs is a long page already).
const maxReturnsListed = 200

func (s *Server) laReturns(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	mb := local.Open(s.opts.DataDir, a.MailboxID)
	d := laReturnsData{LA: a}
	// Returns in the inbox, not yet taken: their message ID from their
	// control file.
	in, err := mb.InboxFiles()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, f := range in {
		r := returnRow{File: f.Name, Sent: f.ModTime, Status: "Waiting for tonight's ingest", StatusClass: "nhsuk-tag--grey"}
		if f.HasControl {
			if ctl, err := readControl(filepath.Join(mb.InboxDir(), mesh.ControlName(f.Name))); err == nil {
				r.MessageID = ctl.DTSID
			}
		}
		d.Rows = append(d.Rows, r)
	}
	outbox, err := outboxNames(mb)
	if err != nil {
		return err
	}
	var taken []returnRow
	if err := s.opts.DB.View(func(tx *store.Tx) error {
		return tx.Messages(a.Code, func(m *store.Message) error {
			taken = append(taken, messageRow(m, outbox))
			return nil
		})
	}); err != nil {
		return err
	}
	slices.Reverse(taken) // newest first
	if len(taken) > maxReturnsListed {
		taken, d.More = taken[:maxReturnsListed], len(taken)-maxReturnsListed
	}
	d.Rows = append(d.Rows, taken...)
	var notice string
	if id := c.R.URL.Query().Get("sent"); mesh.ValidMessageID(id) {
		d.Sent = id
		notice = "Your return was sent as message " + id + ". Tonight's ingest takes it; its response appears here tomorrow morning."
	}
	return c.RenderStatus(http.StatusOK, "la_returns", view{Title: "Returns", Section: "returns", Notice: notice, Data: d})
}

// messageRow is the Returns page's line of a message the hub took.
func messageRow(m *store.Message, outbox map[string]bool) returnRow {
	r := returnRow{MessageID: m.MessageID, Taken: true, File: m.File, Date: m.TakenAt, Outcome: m.Outcome}
	if !m.Extract.IsZero() {
		r.Extract = m.Extract.String()
	}
	switch m.State {
	case store.Held:
		r.Status, r.StatusClass = "Held: operations must release it", "nhsuk-tag--orange"
	case store.Waiting:
		r.Status, r.StatusClass = "Waiting for demographics", "nhsuk-tag--yellow"
	case store.Taken, store.Archived:
		r.Status, r.StatusClass = "Being processed", "nhsuk-tag--blue"
	default:
		if m.Applied {
			r.Status, r.StatusClass = "Applied", "nhsuk-tag--green"
		} else {
			r.Status, r.StatusClass = "Not applied", "nhsuk-tag--red"
		}
	}
	if n := len(m.Responses); n > 0 {
		last := m.Responses[n-1]
		switch {
		case last.WrittenAt.IsZero():
			r.ResponseNote = "Being written"
		case outbox[last.File]:
			r.Response = last.File
		default:
			r.ResponseNote = "Collected"
		}
	}
	return r
}

// laReturnData is the page of one return.
type laReturnData struct {
	LA  store.Authority
	Row returnRow
	// Fix is what to do about the file outcome ("" when nothing).
	Fix string
	// Rows are its rejected and warned rows (at most maxCheckRows), kept
	// for 90 days after it was taken (batch/expire).
	Rows      []checkRow
	Truncated bool
}

// laReturn shows one return the hub took: its outcome and its rejected and
// warned rows. Another LA's message ID is not found (404).
func (s *Server) laReturn(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	id := c.R.PathValue("id")
	if !mesh.ValidMessageID(id) {
		return ErrNotFound
	}
	mb := local.Open(s.opts.DataDir, a.MailboxID)
	outbox, err := outboxNames(mb)
	if err != nil {
		return err
	}
	d := laReturnData{LA: a}
	found := false
	if err := s.opts.DB.View(func(tx *store.Tx) error {
		m, ok, err := tx.MessageByID(a.Code, id)
		if err != nil || !ok || m.LA != a.Code {
			return err
		}
		found = true
		d.Row = messageRow(m, outbox)
		if m.Outcome != nil && m.Outcome.Detail != "" {
			d.Fix = codes.Fix(m.Outcome.Detail)
		}
		return tx.Outcomes(m.Key, func(r store.RowOutcome) error {
			if len(d.Rows) == maxCheckRows {
				d.Truncated = true
				return errStop
			}
			d.Rows = append(d.Rows, checkRow{RowOutcome: r, Fix: codes.FixFor(r.Detail, r.Text)})
			return nil
		})
	}); err != nil && !errors.Is(err, errStop) {
		return err
	}
	if !found {
		return ErrNotFound
	}
	return c.Render("la_return", d.Row.File, "returns", d)
}

// errStop ends a store loop early.
var errStop = errors.New("stop")

// outboxNames returns the data files of the outbox, by name.
func outboxNames(mb *local.Mailbox) (map[string]bool, error) {
	files, err := mb.Outbox()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range files {
		out[f.Name] = true
	}
	return out, nil
}

func readControl(path string) (mesh.Control, error) {
	f, err := os.Open(path)
	if err != nil {
		return mesh.Control{}, err
	}
	defer f.Close()
	return mesh.ParseControl(io.LimitReader(f, 64<<10))
}

// outFile is one line of the Collect page.
type outFile struct {
	Name      string
	Kind      string // Response, Access notification, Inactive numbers, Other
	Size      int64
	Delivered time.Time
	MessageID string
}

// laCollectData is the Collect page's own data.
type laCollectData struct {
	LA    store.Authority
	Files []outFile
}

// fileKind names a kind of outbox file by its name (mesh/mailboxes.md).
func fileKind(name string) string {
	u := strings.ToUpper(name)
	switch {
	case strings.Contains(u, "RESPONSE"):
		return "Response"
	case strings.Contains(u, "ACCESS"):
		return "Access notification"
	case strings.Contains(u, "INACTIVE"):
		return "Inactive numbers"
	}
	return "Other"
}

// outFiles lists the LA's outbox, oldest first.
func (s *Server) outFiles(a store.Authority) ([]outFile, error) {
	mb := local.Open(s.opts.DataDir, a.MailboxID)
	files, err := mb.Outbox()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []outFile
	for _, f := range files {
		o := outFile{Name: f.Name, Kind: fileKind(f.Name), Size: f.Size, Delivered: f.ModTime}
		if f.HasControl {
			if ctl, err := readControl(filepath.Join(mb.OutboxDir(), mesh.ControlName(f.Name))); err == nil {
				o.MessageID = ctl.DTSID
				if ctl.Status != nil && !ctl.Status.DateTime.IsZero() {
					o.Delivered = ctl.Status.DateTime
				}
			}
		}
		out = append(out, o)
	}
	slices.SortStableFunc(out, func(x, y outFile) int { return x.Delivered.Compare(y.Delivered) })
	return out, nil
}

func (s *Server) laCollect(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	files, err := s.outFiles(a)
	if err != nil {
		return err
	}
	var notice string
	if n := c.R.URL.Query().Get("collected"); n != "" && mesh.CheckName(n) == nil {
		notice = n + " is marked collected. It is no longer offered here, over SFTP or over MESH."
	}
	return c.RenderStatus(http.StatusOK, "la_collect", view{Title: "Collect files", Section: "collect", Notice: notice, Data: laCollectData{LA: a, Files: files}})
}

// laCollected marks an outbox file collected: the same collection as a
// MESH acknowledgement (meshstore.MeshAPI.Collect: the collection recorded,
// then the files leave the outbox), recorded as made on the web.
func (s *Server) laCollected(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	name := c.R.PostFormValue("file")
	f, ok, err := s.ownFile(a, name)
	if err != nil {
		return err
	}
	if !ok || f.MessageID == "" {
		return ErrNotFound
	}
	if err := s.mesh.Collect(c.R.Context(), a.MailboxID, f.MessageID, store.CollectedByWeb); err != nil {
		if errors.Is(err, meshapi.ErrNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("collect %s: %w", mesh.Printable(name), err)
	}
	if err := c.Audit("la.collect", fmt.Sprintf("la=%s file=%s message_id=%s", a.Code, mesh.Printable(name), f.MessageID)); err != nil {
		return err
	}
	return c.Redirect("/la/collect?collected=" + url.QueryEscape(name))
}

// ownFile returns the LA's outbox file name; ok false when the outbox has
// no such file (another LA's file is simply not there: 404, never 403).
func (s *Server) ownFile(a store.Authority, name string) (outFile, bool, error) {
	if name == "" || mesh.CheckName(name) != nil || !mesh.IsPlainName(name) || mesh.IsControlName(name) {
		return outFile{}, false, nil
	}
	files, err := s.outFiles(a)
	if err != nil {
		return outFile{}, false, err
	}
	for _, f := range files {
		if f.Name == name {
			return f, true, nil
		}
	}
	return outFile{}, false, nil
}

// laFile downloads one of the LA's outbox files, as stored. Downloading
// does not collect it (as over SFTP, where collecting is deleting).
func (s *Server) laFile(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	name := c.R.PathValue("name")
	f, ok, err := s.ownFile(a, name)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	fh, err := os.Open(filepath.Join(local.Open(s.opts.DataDir, a.MailboxID).OutboxDir(), f.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound // collected meanwhile
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	if c.R.Method == http.MethodGet { // a HEAD downloads nothing
		if err := c.Audit("la.download", fmt.Sprintf("la=%s file=%s", a.Code, mesh.Printable(f.Name))); err != nil {
			return err
		}
	}
	h := c.W.Header()
	h.Set("Content-Type", contentType(f.Name))
	h.Set("Content-Disposition", mimeAttachment(f.Name))
	h.Set("Cache-Control", "no-store")
	http.ServeContent(c.W, c.R, "", f.Delivered, fh)
	return nil
}

func contentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".xml":
		return "application/xml"
	case ".gz":
		return "application/gzip"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "application/octet-stream"
}

// mimeAttachment is a Content-Disposition naming the download.
func mimeAttachment(name string) string {
	return fmt.Sprintf("attachment; filename=%q; filename*=UTF-8''%s", asciiName(name), url.PathEscape(name))
}

func asciiName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Compile-time check that the MESH adapter is what collects here.
var _ = (*meshstore.MeshAPI).Collect
