// Package inactive tells LAs about plans held under NHS numbers that a new
// demographics reference no longer knows as current (store/domain.md; the file: batch/access/access.md, "Inactive NHS numbers"): numbers
// superseded (with the current number), unknown, or sensitive. Each
// (number, plan, reason) is reported once, in
// CPIS_<LA>_INACTIVE_<YYYYMMDD>_<message ID>.csv; the plans stay as they
// are until the LA sends a correction.
package inactive

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"cpis/store/demographics"

	"cpis/batch/pds"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// Header is the header of every inactive-number file.
const Header = "nhs_number,local_id,plan_type,reason,current_nhs_number"

// Reasons.
const (
	Superseded = "SUPERSEDED"
	Unknown    = "UNKNOWN"
	Sensitive  = "SENSITIVE"
)

// Written is one file written.
type Written struct {
	LA   string `json:"la"`
	File string `json:"file"`
	Rows int    `json:"rows"`
}

// Run finds what is owed since the last import, records it (so each
// finding is sent once), and writes the files, including any left unwritten
// by a run that was interrupted.
func Run(dataDir string, db *store.DB, now time.Time) ([]Written, error) {
	err := db.Update(func(tx *store.Tx) error {
		if !tx.HasDemographics() {
			return nil
		}
		// lookErr is the first reference record that did not decode: a
		// damaged reference is refused, never read as an unknown number.
		var lookErr error
		look := func(n string) (demographics.Record, bool) {
			r, ok, err := tx.Demographic(n)
			if err != nil && lookErr == nil {
				lookErr = err
			}
			return r, ok
		}
		byLA := map[string][]store.InactiveRow{}
		err := tx.AllPlans(func(p plans.Plan) error {
			row := store.InactiveRow{NHSNumber: p.NHS, LocalID: p.LocalID, PlanType: string(p.Type)}
			f, known, err := tx.DemographicFacts(p.NHS)
			if err != nil {
				return err
			}
			switch {
			case !known:
				row.Reason = Unknown
			case f.Superseded:
				row.Reason = Superseded
				if row.Current, _ = pds.Current(p.NHS, look); lookErr != nil {
					return lookErr
				}
			case f.Sensitive:
				row.Reason = Sensitive
			default:
				return nil
			}
			sent, err := tx.InactiveSent(p.Key, row.Reason)
			if err != nil || sent {
				return err
			}
			byLA[p.LA] = append(byLA[p.LA], row)
			return nil
		})
		if err != nil {
			return err
		}
		for la, rows := range byLA {
			id := mesh.NewMessageID(now)
			f := store.InactiveFile{LA: la, MessageID: id, DecidedAt: now.UTC(), Rows: rows,
				File: fmt.Sprintf("CPIS_%s_INACTIVE_%s_%s.csv", la, caldate.InLondon(now).Compact(), id)}
			for _, r := range rows {
				if err := tx.MarkInactiveSent(plans.Key{NHS: r.NHSNumber, LA: la, Type: plans.Type(r.PlanType)}, r.Reason, now); err != nil {
					return err
				}
			}
			if err := tx.PutInactiveFile(f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inactive numbers: %w", err)
	}
	return Flush(dataDir, db)
}

// Flush writes every inactive-number file decided but not yet written (by
// a run that was interrupted).
func Flush(dataDir string, db *store.DB) ([]Written, error) {
	var pending []store.InactiveFile
	var las map[string]store.Authority
	if err := db.View(func(tx *store.Tx) error {
		var err error
		pending, err = tx.PendingInactiveFiles()
		if err != nil {
			return err
		}
		all, err := tx.Authorities()
		las = map[string]store.Authority{}
		for _, a := range all {
			las[a.Code] = a
		}
		return err
	}); err != nil {
		return nil, err
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i].LA < pending[j].LA })
	var out []Written
	for _, f := range pending {
		a, ok := las[f.LA]
		if !ok {
			continue
		}
		mb := local.Open(dataDir, a.MailboxID)
		ctl := mesh.OutgoingControl(a.MailboxID, mesh.WorkflowInactive, f.MessageID, f.File, "CP-IS inactive NHS numbers", f.DecidedAt)
		rows := f.Rows
		if err := mb.Deliver(f.File, func(w io.Writer) error { return WriteFile(w, rows) }, ctl); err != nil {
			return out, fmt.Errorf("write %s: %w", f.File, err)
		}
		if err := db.Update(func(tx *store.Tx) error { return tx.DeleteInactiveFile(f) }); err != nil {
			return out, err
		}
		out = append(out, Written{LA: f.LA, File: f.File, Rows: len(f.Rows)})
	}
	return out, nil
}

// WriteFile writes an inactive-number file.
func WriteFile(w io.Writer, rows []store.InactiveRow) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(strings.Split(Header, ",")); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.NHSNumber, r.LocalID, r.PlanType, r.Reason, r.Current}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
