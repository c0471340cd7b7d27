// Package expire purges what health staff can no longer see (data
// minimisation, store/domain.md, "Data minimisation and expiry"): plans past their visibility window, row
// outcomes kept for the reports beyond their 90 days, and audit past its
// retention.
package expire

import (
	"fmt"
	"time"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// OutcomeRetention is how long row outcomes are kept for the reports.
const OutcomeRetention = 90 * 24 * time.Hour

// LookupAuditRetention is how long lookup audit records are kept
// (batch/access/access.md: 2 years by default).
const LookupAuditRetention = 2 * 365 * 24 * time.Hour

// Result counts what a run purged.
type Result struct {
	Plans    int `json:"plans_purged"`
	Outcomes int `json:"row_outcomes_purged"`
	Audits   int `json:"lookup_audits_purged"`
	// SFTPAudits and MeshAudits are SFTP and MESH API audit events older
	// than their 90 days.
	SFTPAudits int `json:"sftp_audits_purged"`
	MeshAudits int `json:"mesh_audits_purged"`
	// WebAudits are web audit events older than their 90 days;
	// WebSessions are web sessions expired (their idle timeout passed).
	WebAudits   int `json:"web_audits_purged"`
	WebSessions int `json:"web_sessions_purged"`
	Archived    int `json:"outbox_archived"`
}

// Run purges, in one transaction, every plan not visible on today's London
// date, the row outcomes of messages taken more than 90 days ago, lookup
// audit older than 2 years, SFTP, MESH API and web audit older than 90
// days, and expired web sessions.
// Running it twice changes nothing the second time.
func Run(db *store.DB, now time.Time) (Result, error) {
	today := caldate.InLondon(now)
	var res Result
	err := db.Update(func(tx *store.Tx) error {
		var gone []plans.Key
		if err := tx.AllPlans(func(p plans.Plan) error {
			// A date of birth can only end a CPP or LAC sooner (the 18th
			// birthday): a plan not visible without one is not visible,
			// and a UCPP's visibility does not depend on it. Only the
			// others need the reference looked up.
			vis := p.VisibleOn(today, caldate.Date{})
			if vis && p.Type != plans.UCPP {
				dob, err := tx.DateOfBirth(p.NHS)
				if err != nil {
					return err
				}
				vis = p.VisibleOn(today, dob)
			}
			if !vis {
				gone = append(gone, p.Key)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range gone {
			if _, err := tx.DeletePlan(k); err != nil {
				return err
			}
		}
		res.Plans = len(gone)
		if err := tx.PurgeHistories(gone); err != nil {
			return err
		}
		n, err := tx.PurgeLookupAudits(now.Add(-LookupAuditRetention))
		if err != nil {
			return err
		}
		res.Audits = n
		if res.SFTPAudits, err = tx.PurgeSFTPAudit(now.Add(-store.SFTPAuditRetention)); err != nil {
			return err
		}
		if res.MeshAudits, err = tx.PurgeMeshAudits(now.Add(-store.MeshAuditRetention)); err != nil {
			return err
		}
		if res.WebAudits, err = tx.PurgeWebAudits(now.Add(-store.WebAuditRetention)); err != nil {
			return err
		}
		if res.WebSessions, err = tx.PurgeWebSessions(now); err != nil {
			return err
		}
		// Login throttling records whose failures and lock have run out
		// (batch/accounts): an hour is past any window.
		if _, err = tx.PurgeWebThrottles(now, time.Hour); err != nil {
			return err
		}

		cutoff := now.Add(-OutcomeRetention)
		var old [][]byte
		if err := tx.Messages("", func(m *store.Message) error {
			if m.TakenAt.Before(cutoff) && m.State == store.Responded {
				old = append(old, m.Key)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			n, err := tx.PurgeOutcomes(k)
			if err != nil {
				return err
			}
			res.Outcomes += n
		}
		return tx.Audit(store.AuditEvent{At: now, Action: "expire", Counts: map[string]int{"plans_purged": res.Plans, "row_outcomes_purged": res.Outcomes, "lookup_audits_purged": res.Audits,
			"sftp_audits_purged": res.SFTPAudits, "mesh_audits_purged": res.MeshAudits, "web_audits_purged": res.WebAudits, "web_sessions_purged": res.WebSessions}})
	})
	if err != nil {
		return Result{}, fmt.Errorf("expire: %w", err)
	}
	return res, nil
}
