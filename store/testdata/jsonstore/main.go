// Command jsonstore writes store/testdata/json-records.db: a small store
// whose plans, demographics and row outcomes are JSON values, as every
// store made before the binary records (record format 0, store/doc.go).
//
// It was run with the store package of the commit that adds it, the last
// one that wrote JSON records:
//
//	go run ./store/testdata/jsonstore store/testdata/json-records.db
//
// Run today it would write the current format; the file is kept as made.
// TestOpenMigratesJSONRecords lists what the file holds.
package main

import (
	"fmt"
	"os"
	"time"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/demographics"
	"cpis/store/plans"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: jsonstore FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "jsonstore:", err)
		os.Exit(1)
	}
}

func date(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

func run(out string) error {
	dir, err := os.MkdirTemp("", "jsonstore")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	created := time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
	db, err := store.Open(dir, store.Options{Create: true, Now: created, Setup: func(tx *store.Tx) error {
		for _, la := range []store.Authority{
			{Code: "202", Name: "Camden", MailboxID: "LA202HC001", EmergencyPhone: "020 7946 0001"},
			{Code: "841", Name: "Darlington", MailboxID: "LA841HC001", EmergencyPhone: "0191 498 0123"},
		} {
			if err := tx.PutAuthority(la); err != nil {
				return err
			}
		}
		return nil
	}})
	if err != nil {
		return err
	}
	defer db.Close()
	err = db.Update(func(tx *store.Tx) error {
		if err := tx.ReplaceDemographics(created, func(put func(demographics.Record) error) error {
			for _, r := range []demographics.Record{
				{NHS: "9990276579", FamilyName: "Smith", GivenName: "Amy", DOB: date("2015-03-04")},
				{NHS: "9990275831", FamilyName: "O'Brien", GivenName: "Siobhán", DOB: date("1990-02-28")},
				{NHS: "9990000018", FamilyName: "Straße", DOB: date("2008-02-29"), DOD: date("2026-10-01")},
				{NHS: "9990000026", GivenName: "Zoë", SupersededBy: "9990276579"},
				{NHS: "9990000034", Sensitive: true},
			} {
				if err := put(r); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		for _, p := range []plans.Plan{
			{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: date("2026-03-02"), LocalID: "C-1"},
			{Key: plans.Key{NHS: "9990276579", LA: "202", Type: plans.LAC}, Start: date("2025-01-01"), End: date("2026-01-01"), LocalID: "L/1 \"quoted\""},
			{Key: plans.Key{NHS: "9990275831", LA: "841", Type: plans.UCPP}, Start: date("2026-05-01"), Due: date("2026-12-01"), LocalID: "U-1"},
			{Key: plans.Key{NHS: "9990000018", LA: "202", Type: plans.CPP}, Start: date("2020-01-01"), End: date("2026-10-01"), LocalID: "Ä-ß"},
		} {
			if err := tx.PutPlan(p); err != nil {
				return err
			}
		}
		m := &store.Message{LA: "841", MailboxID: "LA841HC001", MessageID: "M1", File: "CPIS_841_FULL_20261119.csv",
			SHA256: "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b", Size: 120, Kind: "FULL",
			Extract: date("2026-11-19"), TakenAt: created, State: store.Responded, Applied: true, AppliedAt: created,
			Outcome: &store.Outcome{Code: codes.FilePartial, Text: "read=3 applied=2 rejected=1 warnings=1 withdrawn=0",
				Counts: store.Counts{Read: 3, Applied: 2, Rejected: 1, Warnings: 1}, WithRows: true},
			Responses: []store.Response{{MessageID: "R1", File: "CPIS_841_RESP_20261119.csv", DecidedAt: created, WrittenAt: created}}}
		m.Responses[0].Outcome = *m.Outcome
		if err := tx.NewMessage(m); err != nil {
			return err
		}
		if err := tx.PutOutcomes(m, []store.RowOutcome{
			{Line: 2, LocalID: "C-1", NHSNumber: "9990276579", Code: codes.RowWarning, Detail: codes.P005, Text: "family name differs: Smyth"},
			{Line: 3, LocalID: "U-1", NHSNumber: "9990275831"},
			{Line: 4, LocalID: "X-9", NHSNumber: "999 000 0042", Code: codes.RowNHSFormat, Detail: codes.R003, Text: "check digit fails: 999 000 0042"},
		}); err != nil {
			return err
		}
		return tx.PutLAState("841", store.LAState{LastApplied: date("2026-11-19"), LastAppliedID: "M1"})
	})
	if err != nil {
		return err
	}
	// A copy holds only the pages in use (the file itself was grown).
	if _, err := db.Backup(out, true); err != nil {
		return err
	}
	return db.Close()
}
