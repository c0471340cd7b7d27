// Package notify writes the daily access-notification files (batch/access/access.md, "Daily access notifications"):
// for each London day and each LA, CPIS_<LA>_ACCESS_<YYYYMMDD>.csv with
// the unscheduled accesses to that LA's children, header only when there
// were none, so the LA can tell "nothing happened" from "nothing arrived".
//
// A (day, LA) file is decided in the store (message ID, rows) before it is
// written, and marked written after, so a run killed half way rewrites the
// same file and no day is ever written twice or skipped.
package notify

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
)

// Header is the header of every access file.
const Header = "accessed_at,nhs_number,local_id,plan_type,org_code,org_name,setting,user_name,user_role"

// Grace is how long after midnight the default run waits before it writes
// the day just ended.
const Grace = time.Minute

// ErrBeforeStore means a file was asked for a day before the store existed.
var ErrBeforeStore = errors.New("the hub's store did not exist on that day")

// ErrDayNotOver means a file was asked for a day that is not yet over.
var ErrDayNotOver = errors.New("the day is not over yet")

// Config is what a run needs.
type Config struct {
	DataDir string
	DB      *store.DB
	Now     time.Time
	// Day, when set, writes only that day; otherwise every finished day
	// not yet written since the store was made.
	Day caldate.Date
}

// Written is one access file written by a run.
type Written struct {
	Day  caldate.Date `json:"day"`
	LA   string       `json:"la"`
	File string       `json:"file"`
	Rows int          `json:"rows"`
}

// FileName returns the access file name of la for day.
func FileName(la string, day caldate.Date) string {
	return fmt.Sprintf("CPIS_%s_ACCESS_%s.csv", la, day.Compact())
}

// Run writes every access file due. Running it again writes nothing new.
func Run(cfg Config) ([]Written, error) {
	today := caldate.InLondon(cfg.Now)
	var las []store.Authority
	var first caldate.Date
	if err := cfg.DB.View(func(tx *store.Tx) error {
		var err error
		las, err = tx.Authorities()
		first = caldate.InLondon(tx.Created())
		if days, derr := tx.OwedDays(); derr == nil && len(days) > 0 && days[0].Before(first) {
			first = days[0]
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	var days []caldate.Date
	if !cfg.Day.IsZero() {
		if !cfg.Day.Before(today) {
			return nil, fmt.Errorf("notify %s: %w (today is %s in London)", cfg.Day, ErrDayNotOver, today)
		}
		if cfg.Day.Before(first) {
			// Header-only files would tell LAs "nothing happened" on a day
			// the hub was not there to see.
			return nil, fmt.Errorf("notify %s: %w (it was made on %s)", cfg.Day, ErrBeforeStore, first)
		}
		days = []caldate.Date{cfg.Day}
	} else {
		// A day is over for the default run a minute after midnight, so an
		// access answered at 23:59:59 is committed before its day is written.
		over := caldate.InLondon(cfg.Now.Add(-Grace))
		for d := first; d.Before(over); d = d.AddDays(1) {
			days = append(days, d)
		}
	}
	// One LA whose mailbox cannot take a file (its outbox gone, a full
	// disk there) does not keep the others from being told: every day and
	// LA is tried, and the failures are returned together.
	var out []Written
	var errs []error
	for _, day := range days {
		w, err := writeDay(cfg, las, day)
		out = append(out, w...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// deliverers is how many LAs' files are written at once.
const deliverers = 32

// writeDay decides every LA's file for day in one transaction, writes the
// files, and marks them written in another.
func writeDay(cfg Config, las []store.Authority, day caldate.Date) ([]Written, error) {
	var due []store.Authority
	files := map[string]store.DayFile{}
	err := cfg.DB.Update(func(tx *store.Tx) error {
		for _, a := range las {
			f, ok, err := tx.DayFile(day, a.Code)
			if err != nil {
				return err
			}
			if ok && !f.WrittenAt.IsZero() {
				continue
			}
			if !ok {
				rows, err := tx.Owed(day, a.Code)
				if err != nil {
					return err
				}
				f = store.DayFile{MessageID: mesh.NewMessageID(cfg.Now), File: FileName(a.Code, day), Rows: len(rows), DecidedAt: cfg.Now.UTC()}
				if err := tx.PutDayFile(day, a.Code, f); err != nil {
					return err
				}
			}
			files[a.Code] = f
			due = append(due, a)
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Code < due[j].Code })
	// Each file is written and synced on its own, most of it waiting on
	// the disk: the LAs' files are written together, deliverers at once.
	type result struct {
		written Written
		err     error
	}
	results := make([]result, len(due))
	sem := make(chan struct{}, deliverers)
	var wg sync.WaitGroup
	for i, a := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f := files[a.Code]
			written := 0
			mb := local.Open(cfg.DataDir, a.MailboxID)
			ctl := mesh.OutgoingControl(a.MailboxID, mesh.WorkflowAccess, f.MessageID, f.File,
				fmt.Sprintf("CP-IS accesses on %s", day), f.DecidedAt)
			write := func(w io.Writer) error {
				return cfg.DB.View(func(tx *store.Tx) error {
					rows, err := tx.Owed(day, a.Code)
					if err != nil {
						return err
					}
					written = len(rows)
					return WriteFile(w, rows)
				})
			}
			if err := mb.Deliver(f.File, write, ctl); err != nil {
				results[i].err = &mesh.LAError{LA: a.Code, Err: fmt.Errorf("notify day %s: %w", day, err)}
				return
			}
			results[i].written = Written{Day: day, LA: a.Code, File: f.File, Rows: written}
		}()
	}
	wg.Wait()
	var out []Written
	var failed []error
	delivered := due[:0:0]
	for i, a := range due {
		if results[i].err != nil {
			failed = append(failed, results[i].err)
			continue
		}
		f := files[a.Code]
		f.Rows = results[i].written.Rows
		files[a.Code] = f
		out = append(out, results[i].written)
		delivered = append(delivered, a)
	}
	if len(delivered) == 0 {
		return out, errors.Join(failed...)
	}
	err = cfg.DB.Update(func(tx *store.Tx) error {
		for _, a := range delivered {
			f := files[a.Code]
			f.WrittenAt = cfg.Now.UTC()
			if err := tx.PutDayFile(day, a.Code, f); err != nil {
				return err
			}
			if err := tx.DeleteOwed(day, a.Code); err != nil {
				return err
			}
		}
		return tx.Audit(store.AuditEvent{At: cfg.Now, Action: "notify.written", Note: day.String(), Counts: map[string]int{"files": len(delivered)}})
	})
	if err != nil {
		return out, err
	}
	return out, errors.Join(failed...)
}

// londonTime is RFC 3339 with the offset always written as digits
// (+00:00 in winter, +01:00 in summer), never "Z": the time is London's.
const londonTime = "2006-01-02T15:04:05-07:00"

// WriteFile writes an access file: the header, then one row per access and
// plan, accessed_at in London time with its offset, whole seconds.
func WriteFile(w io.Writer, rows []store.Notification) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(strings.Split(Header, ",")); err != nil {
		return err
	}
	for _, n := range rows {
		at := n.AccessedAt.In(caldate.London).Truncate(time.Second).Format(londonTime)
		if err := cw.Write([]string{at, n.NHSNumber, n.LocalID, n.PlanType, n.OrgCode, n.OrgName, n.Setting, n.UserName, n.UserRole}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
