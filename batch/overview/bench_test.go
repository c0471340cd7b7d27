package overview_test

import (
	"fmt"
	"testing"
	"time"

	"cpis/batch/hubtest"
	"cpis/batch/overview"
	"cpis/store"
	"cpis/store/caldate"
)

// BenchmarkMorning reads what the operations overview page shows (the
// last night and the counts at a glance) from a national hub: 153 LAs
// with a year of nightly returns each (55,845 messages) and the 1,000 job
// runs the store keeps.
//
//	go test ./batch/overview -run '^$' -bench Morning -benchtime 5x
func BenchmarkMorning(b *testing.B) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	h := hubtest.New(b, hubtest.Options{Created: now.AddDate(-1, 0, -1)})
	var las []store.Authority
	if err := h.DB.View(func(tx *store.Tx) (err error) { las, err = tx.Authorities(); return err }); err != nil {
		b.Fatal(err)
	}
	for _, a := range las {
		if err := h.DB.Update(func(tx *store.Tx) error {
			for day := 365; day >= 0; day-- {
				at := now.AddDate(0, 0, -day).Add(-6*time.Hour - 45*time.Minute) // 02:15
				m := &store.Message{LA: a.Code, MailboxID: a.MailboxID, MessageID: fmt.Sprintf("%s000000_%s%03d", at.Format("20060102150405"), a.Code, day%1000),
					File: fmt.Sprintf("CPIS_%s_DELTA_%s.csv", a.Code, at.Format("20060102")), SHA256: fmt.Sprintf("%064d", day), Kind: "DELTA",
					Extract: caldate.InLondon(at).AddDays(-1), TakenAt: at, State: store.Responded, Applied: true, AppliedAt: at,
					Outcome: &store.Outcome{Code: "CPF02", Counts: store.Counts{Read: 40, Applied: 40}}}
				if err := tx.NewMessage(m); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := h.DB.Update(func(tx *store.Tx) error {
		for i := store.JobRunsKept; i > 0; i-- {
			if err := tx.AddJobRun(store.JobRun{Job: "pull", Start: now.Add(-time.Duration(i) * 15 * time.Minute), Outcome: "ok", Counts: map[string]int{"pulled": 1}}); err != nil {
				return err
			}
		}
		return tx.AddJobRun(store.JobRun{Job: "ingest", Start: now.Add(-6*time.Hour - 45*time.Minute), Outcome: "ok"})
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := overview.LastNight(h.DB, now); err != nil {
			b.Fatal(err)
		}
		if _, err := overview.AtAGlance(h.Dir, h.DB, now); err != nil {
			b.Fatal(err)
		}
	}
}
