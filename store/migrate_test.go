package store

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"cpis/store/codes"
	"cpis/store/demographics"
	"cpis/store/plans"
)

// jsonFixture is the store of testdata/jsonstore: its records are JSON, as
// every store made before the binary records (record format 0).
const jsonFixture = "testdata/json-records.db"

// contents is what a store holds of the migrated records, read with the
// store's own readers.
type contents struct {
	Plans        []plans.Plan
	Demographics []demographics.Record
	Messages     []Message
	Outcomes     []RowOutcome
	LAState      LAState
}

// fixtureContents is what jsonstore put in the fixture.
func fixtureContents() contents {
	taken := time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
	outcome := Outcome{Code: codes.FilePartial, Text: "read=3 applied=2 rejected=1 warnings=1 withdrawn=0",
		Counts: Counts{Read: 3, Applied: 2, Rejected: 1, Warnings: 1}, WithRows: true}
	pk := func(nhs, la string, t plans.Type) plans.Key { return plans.Key{NHS: nhs, LA: la, Type: t} }
	return contents{
		Plans: []plans.Plan{
			{Key: pk("9990000018", "202", plans.CPP), Start: day("2020-01-01"), End: day("2026-10-01"), LocalID: "Ä-ß"},
			{Key: pk("9990275831", "841", plans.UCPP), Start: day("2026-05-01"), Due: day("2026-12-01"), LocalID: "U-1"},
			{Key: pk("9990276579", "202", plans.LAC), Start: day("2025-01-01"), End: day("2026-01-01"), LocalID: "L/1 \"quoted\""},
			{Key: pk("9990276579", "841", plans.CPP), Start: day("2026-03-02"), LocalID: "C-1"},
		},
		Demographics: []demographics.Record{
			{NHS: "9990000018", FamilyName: "Straße", DOB: day("2008-02-29"), DOD: day("2026-10-01")},
			{NHS: "9990000026", GivenName: "Zoë", SupersededBy: "9990276579"},
			{NHS: "9990000034", Sensitive: true},
			{NHS: "9990275831", FamilyName: "O'Brien", GivenName: "Siobhán", DOB: day("1990-02-28")},
			{NHS: "9990276579", FamilyName: "Smith", GivenName: "Amy", DOB: day("2015-03-04")},
		},
		Messages: []Message{{Key: append([]byte("841"), 0, 0, 0, 0, 0, 0, 0, 1), LA: "841", MailboxID: "LA841HC001", MessageID: "M1",
			File: "CPIS_841_FULL_20261119.csv", SHA256: "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
			Size: 120, Kind: "FULL", Extract: day("2026-11-19"), TakenAt: taken, State: Responded, Outcome: &outcome,
			Applied: true, AppliedAt: taken,
			Responses: []Response{{MessageID: "R1", File: "CPIS_841_RESP_20261119.csv", DecidedAt: taken, WrittenAt: taken, Outcome: outcome}}}},
		Outcomes: []RowOutcome{
			{Line: 2, LocalID: "C-1", NHSNumber: "9990276579", Code: codes.RowWarning, Detail: codes.P005, Text: "family name differs: Smyth"},
			{Line: 3, LocalID: "U-1", NHSNumber: "9990275831"},
			{Line: 4, LocalID: "X-9", NHSNumber: "999 000 0042", Code: codes.RowNHSFormat, Detail: codes.R003, Text: "check digit fails: 999 000 0042"},
		},
		LAState: LAState{LastApplied: day("2026-11-19"), LastAppliedID: "M1"},
	}
}

// read reads the contents of a store in tx.
func read(t *testing.T, tx *Tx) contents {
	t.Helper()
	var c contents
	if err := tx.AllPlans(func(p plans.Plan) error { c.Plans = append(c.Plans, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := tx.b(bDemographics).ForEach(func(k, _ []byte) error {
		r, ok, err := tx.Demographic(string(k))
		if err != nil || !ok {
			t.Errorf("demographics %s does not read: %v", k, err)
		}
		if dob, err := tx.DateOfBirth(string(k)); err != nil || dob != r.DOB {
			t.Errorf("demographics %s: DateOfBirth %s (%v), record %s", k, dob, err, r.DOB)
		}
		want := DemographicFacts{DOB: r.DOB, Superseded: r.SupersededBy != "", Sensitive: r.Sensitive}
		if f, ok, err := tx.DemographicFacts(string(k)); err != nil || !ok || f != want {
			t.Errorf("demographics %s: DemographicFacts %+v %v (%v), record %+v", k, f, ok, err, want)
		}
		c.Demographics = append(c.Demographics, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Messages("", func(m *Message) error {
		c.Messages = append(c.Messages, *m)
		return tx.Outcomes(m.Key, func(o RowOutcome) error { c.Outcomes = append(c.Outcomes, o); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.LAState, err = tx.LAState("841"); err != nil {
		t.Fatal(err)
	}
	return c
}

// readFile reads the contents of the store file at path without opening
// it as a store (nothing is migrated, nothing written).
func readFile(t *testing.T, path string) (contents, uint64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var c contents
	var format uint64
	b.View(func(tx *bolt.Tx) error {
		c, format = read(t, &Tx{tx: tx}), recordFormat(tx)
		return nil
	})
	return c, format
}

// firstBytes returns the first byte of every value of the migrated
// buckets, as a string per bucket.
func firstBytes(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := map[string]string{}
	b.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bPlans, bDemographics, bOutcomes} {
			tx.Bucket(name).ForEach(func(_, v []byte) error { got[string(name)] += string(v[:1]); return nil })
		}
		return nil
	})
	return got
}

// checkInvariants runs Check's invariants on the store file at path without
// opening it as a store; buckets added to the layout after the file was
// made are not missed (Open makes them).
func checkInvariants(t *testing.T, path string) []string {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rep := &CheckReport{}
	b.View(func(tx *bolt.Tx) error {
		(&checker{tx: tx, rep: rep}).run()
		for err := range tx.Check() {
			rep.add([]byte("bbolt"), "", "%v", err)
		}
		return nil
	})
	var lines []string
	for _, p := range rep.Problems {
		if p.Text == "bucket missing" && laterBuckets[p.Bucket] {
			continue // made by Open, not there before
		}
		lines = append(lines, p.String())
	}
	return lines
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// copyFixture copies the JSON store into a new data dir and returns the
// dir and the store file's path.
func copyFixture(t *testing.T) (string, string) {
	t.Helper()
	data, err := os.ReadFile(jsonFixture)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// countMigrations counts the groups of records migrations rewrite while
// the test runs.
func countMigrations(t *testing.T) *int {
	t.Helper()
	n := new(int)
	migrateHook = func(string, int) error { *n++; return nil }
	t.Cleanup(func() { migrateHook = nil })
	return n
}

// A store written by the previous version (JSON records) passes Check as
// it is, is migrated once by Open, reads the same afterwards, passes Check
// again, and a second Open writes nothing.
func TestOpenMigratesJSONRecords(t *testing.T) {
	dir, path := copyFixture(t)
	want := fixtureContents()
	old, format := readFile(t, path)
	if format != 0 {
		t.Fatalf("the fixture has record format %d, want 0", format)
	}
	if diff := cmp.Diff(want, old, allowDate); diff != "" {
		t.Fatalf("the JSON store reads (-want +got):\n%s", diff)
	}
	if got, want := firstBytes(t, path), map[string]string{"plans": "{{{{", "demographics": "{{{{{", "outcomes": "{{{"}; !cmp.Equal(got, want) {
		t.Fatalf("the fixture's values begin %q, want %q", got, want)
	}
	if lines := checkInvariants(t, path); len(lines) != 0 {
		t.Errorf("check of the JSON store:\n%s", strings.Join(lines, "\n"))
	}

	groups := countMigrations(t)
	db, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var migrated contents
	db.View(func(tx *Tx) error { migrated = read(t, tx); return nil })
	if diff := cmp.Diff(want, migrated, allowDate); diff != "" {
		t.Errorf("the migrated store reads (-want +got):\n%s", diff)
	}
	rep, err := db.Check()
	if err != nil || !rep.OK() {
		t.Errorf("check of the migrated store: %v %+v", err, rep)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if *groups != 3 {
		t.Errorf("Open rewrote %d groups of records, want 3 (one per bucket)", *groups)
	}
	if got, want := firstBytes(t, path), map[string]string{"plans": "\x01\x01\x01\x01", "demographics": "\x01\x01\x01\x01\x01", "outcomes": "\x01\x01\x01"}; !cmp.Equal(got, want) {
		t.Errorf("the migrated values begin %q, want %q", got, want)
	}
	if _, format := readFile(t, path); format != RecordFormat {
		t.Errorf("record format %d after Open, want %d", format, RecordFormat)
	}
	if lines := checkInvariants(t, path); len(lines) != 0 {
		t.Errorf("check of the migrated store:\n%s", strings.Join(lines, "\n"))
	}

	before := fileSum(t, path)
	db, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var again contents
	db.View(func(tx *Tx) error { again = read(t, tx); return nil })
	db.Close()
	if diff := cmp.Diff(want, again, allowDate); diff != "" {
		t.Errorf("the second open reads (-want +got):\n%s", diff)
	}
	if *groups != 3 || fileSum(t, path) != before {
		t.Errorf("the second Open migrated again (%d groups) or wrote to the file", *groups)
	}
}

// A migration that fails part way (after the plans and demographics are
// rewritten, in the transaction) leaves the store as it was, in the old
// format, and the next Open migrates it whole.
func TestMigrationFailureLeavesOldStore(t *testing.T) {
	dir, path := copyFixture(t)
	before := fileSum(t, path)
	failed := errors.New("disk on fire")
	migrateHook = func(bucket string, _ int) error {
		if bucket == "outcomes" {
			return failed
		}
		return nil
	}
	t.Cleanup(func() { migrateHook = nil })
	if _, err := Open(dir, Options{NoSync: true}); !errors.Is(err, failed) {
		t.Fatalf("Open: %v, want the migration's failure", err)
	}
	if fileSum(t, path) != before {
		t.Fatalf("a failed migration changed the store file")
	}
	migrateHook = nil
	wantOpened(t, dir, fixtureContents(), "after the failed migration and another Open")
}

// wantOpened opens the store in dir and checks it holds want; when says
// when.
func wantOpened(t *testing.T, dir string, want contents, when string) {
	t.Helper()
	db, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got contents
	if err := db.View(func(tx *Tx) error { got = read(t, tx); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, allowDate); diff != "" {
		t.Errorf("%s (-want +got):\n%s", when, diff)
	}
}

// A store of a later schema (and record format) is refused, never read or
// written.
func TestLaterRecordFormatRefused(t *testing.T) {
	dir, path := copyFixture(t)
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, []byte("3")) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	before := fileSum(t, path)
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), `file has "3", this cpis reads "2"`) {
		t.Errorf("Open: %v, want ErrSchema naming the record format", err)
	}
	if fileSum(t, path) != before {
		t.Errorf("the refused store changed")
	}
}

// A new store is made in the current record format.
func TestCreateRecordFormat(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var format uint64
	db.View(func(tx *Tx) error { format = recordFormat(tx.tx); return nil })
	db.Close()
	if format != RecordFormat {
		t.Errorf("a new store has record format %d, want %d", format, RecordFormat)
	}
}
