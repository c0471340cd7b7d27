package console

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"cpis/batch/expire"
	"cpis/batch/overview"
	"cpis/store"
)

// reportsShown is how many nightly reports the reports page offers.
const reportsShown = 14

// opsUndeliveredData is the undelivered page's own data.
type opsUndeliveredData struct {
	Rows []expire.Undelivered
	// Names are the LAs' names by code.
	Names map[string]string
}

func (s *Server) opsUndelivered(c *Ctx) error {
	rows, err := overview.Undelivered(s.opts.DataDir, s.opts.DB, c.Now())
	if err != nil {
		return err
	}
	names, err := s.laNames()
	if err != nil {
		return err
	}
	return c.Render("ops_undelivered", "Undelivered messages", "undelivered", opsUndeliveredData{Rows: rows, Names: names})
}

// laNames returns every LA's name by code.
func (s *Server) laNames() (map[string]string, error) {
	names := map[string]string{}
	err := s.opts.DB.View(func(tx *store.Tx) error {
		las, err := tx.Authorities()
		for _, a := range las {
			names[a.Code] = a.Name
		}
		return err
	})
	return names, err
}

func (s *Server) opsQuiet(c *Ctx) error {
	rows, err := overview.QuietLAs(s.opts.DB, c.Now())
	if err != nil {
		return err
	}
	return c.Render("ops_quiet", "Quiet LAs", "quiet", rows)
}

func (s *Server) opsReports(c *Ctx) error {
	rows, err := overview.Reports(s.opts.DataDir, reportsShown)
	if err != nil {
		return err
	}
	return c.Render("ops_reports", "Reports", "reports", rows)
}

// opsReport downloads a nightly report workbook (audited: it holds NHS
// numbers). Any name but a nightly report's held is 404.
func (s *Server) opsReport(c *Ctx) error {
	name := c.R.PathValue("name")
	path, err := overview.ReportPath(s.opts.DataDir, name)
	if errors.Is(err, overview.ErrNoReport) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := c.Audit("report.downloaded", "file="+name); err != nil {
		return err
	}
	h := c.W.Header()
	h.Set("Content-Type", contentType(name))
	h.Set("Content-Disposition", mimeAttachment(name))
	h.Set("Cache-Control", "no-store")
	http.ServeContent(c.W, c.R, "", info.ModTime(), f)
	return nil
}

// userLister lists the web accounts (*accounts.Service does).
type userLister interface {
	List() ([]User, error)
}

// opsUsersData is the users page's own data.
type opsUsersData struct {
	Users []User
	Names map[string]string
	// Now tells a set-up link still valid from one expired.
	Now time.Time
}

// opsUsers lists the web accounts. Adding, resetting and removing them
// stays with `cpis users add|reset|remove` on the hub's host: a set-up
// link is a credential until used, printed once to whoever runs the
// command.
func (s *Server) opsUsers(c *Ctx) error {
	l, ok := s.opts.Accounts.(userLister)
	if !ok {
		return fmt.Errorf("console: the accounts given cannot list users")
	}
	users, err := l.List()
	if err != nil {
		return err
	}
	slices.SortStableFunc(users, func(a, b User) int {
		return cmp.Or(compareBool(a.Role != RoleOps, b.Role != RoleOps), strings.Compare(a.LA, b.LA), strings.Compare(a.Email, b.Email))
	})
	names, err := s.laNames()
	if err != nil {
		return err
	}
	return c.Render("ops_users", "Users", "users", opsUsersData{Users: users, Names: names, Now: c.Now()})
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
