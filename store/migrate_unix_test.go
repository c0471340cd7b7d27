//go:build unix

package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"cpis/store/demographics"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

// Environment of the child process of the kill tests: the data dir to
// open, and whether to kill itself in the migration's last bucket.
const (
	envKillDir  = "CPIS_TEST_MIGRATE_DIR"
	envKillSelf = "CPIS_TEST_MIGRATE_KILL_SELF"
)

// TestMigrationChild is the process the kill tests start: it opens the
// store (migrating it) and says "migrating" when the first group of
// records is rewritten. Run directly, it does nothing.
func TestMigrationChild(t *testing.T) {
	dir := os.Getenv(envKillDir)
	if dir == "" {
		return
	}
	said := false
	migrateHook = func(bucket string, _ int) error {
		if !said {
			fmt.Println("migrating")
			said = true
		}
		if bucket == "outcomes" && os.Getenv(envKillSelf) != "" {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// child starts TestMigrationChild on the store in dir.
func child(t *testing.T, dir string, killSelf bool) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMigrationChild$")
	cmd.Env = append(os.Environ(), envKillDir+"="+dir)
	if killSelf {
		cmd.Env = append(cmd.Env, envKillSelf+"=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewReader(out)
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// A process killed in the middle of a migration (two buckets of three
// rewritten in its transaction) leaves the store file exactly as it was.
func TestMigrationKilledMidway(t *testing.T) {
	dir, path := copyFixture(t)
	before := fileSum(t, path)
	cmd, _ := child(t, dir, true)
	if err := cmd.Wait(); !killedBySIGKILL(err) {
		t.Fatalf("the migrating process ended with %v, want SIGKILL", err)
	}
	if fileSum(t, path) != before {
		t.Fatal("a migration killed midway changed the store file")
	}
	wantOpened(t, dir, fixtureContents(), "after the kill and another Open")
}

// Kills at random moments of the migration of a larger store, its commit
// included, leave a store that opens in one format or the other, never a
// mix, and that reads the same once migrated.
func TestMigrationKilledAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates a store of 15,000 records several times")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	jsonStore(t, dir, 5000)
	var want contents
	func() {
		b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		b.View(func(tx *bolt.Tx) error { want = read(t, &Tx{tx: tx}); return nil })
	}()
	// One migration to its end measures how long the rest takes after the
	// first group, so that the kills spread over it and past its commit.
	cmd, out := child(t, dir, false)
	if line, err := out.ReadString('\n'); line != "migrating\n" {
		t.Fatalf("the child said %q, %v", line, err)
	}
	start := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if format, mixed := formatOf(t, path); format != RecordFormat || mixed != "" {
		t.Fatalf("after a whole migration: record format %d %s", format, mixed)
	}
	jsonStore(t, dir, 0)
	formats := map[uint64]int{}
	const kills = 6
	for i := range kills {
		cmd, out := child(t, dir, false)
		if line, err := out.ReadString('\n'); line != "migrating\n" {
			t.Fatalf("the child said %q, %v", line, err)
		}
		span := took * 3 / 2 // past the end too
		time.Sleep(span*time.Duration(i)/kills + time.Duration(rand.Int64N(int64(span/kills))))
		cmd.Process.Kill()
		cmd.Wait()
		format, mixed := formatOf(t, path)
		if mixed != "" {
			t.Fatalf("kill %d: %s", i, mixed)
		}
		formats[format]++
		if format == RecordFormat {
			jsonStore(t, dir, 0) // back to JSON for the next kill
		}
	}
	t.Logf("migration after its first group: %s; kills that left the old format / the new one: %d / %d", took, formats[0], formats[RecordFormat])
	wantOpened(t, dir, want, "after the kills")
}

// formatOf returns the record format of the store at path and, when its
// values are not all of that format, what is wrong.
func formatOf(t *testing.T, path string) (uint64, string) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("the store does not open: %v", err)
	}
	defer b.Close()
	var format uint64
	var mixed string
	b.View(func(tx *bolt.Tx) error {
		format = recordFormat(tx)
		first := byte(recordJSON)
		if format == RecordFormat {
			first = recordV1
		}
		for _, name := range [][]byte{bPlans, bDemographics, bOutcomes} {
			tx.Bucket(name).ForEach(func(k, v []byte) error {
				if v[0] != first && mixed == "" {
					mixed = fmt.Sprintf("record format %d, but %s %q begins %q", format, name, k, v[:1])
				}
				return nil
			})
		}
		return nil
	})
	return format, mixed
}

// jsonStore makes in dir a store of n plans and n demographics records,
// and one message with n row outcomes, and writes its records as JSON, as
// the previous version did (record format 0). With n = 0 it only turns
// the existing store's records back into JSON.
func jsonStore(t *testing.T, dir string, n int) {
	t.Helper()
	if n > 0 {
		db, err := Open(dir, Options{Create: true, NoSync: true, Setup: func(tx *Tx) error {
			return tx.PutAuthority(Authority{Code: "841", Name: "Darlington", EmergencyPhone: "0191 498 0123"})
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *Tx) error {
			var numbers []string
			for i := 0; len(numbers) < n; i++ {
				if nhs := fmt.Sprintf("999%07d", i); nhsnumber.Valid(nhs) {
					numbers = append(numbers, nhs)
				}
			}
			if err := tx.ReplaceDemographics(time.Now(), func(put func(demographics.Record) error) error {
				for i, nhs := range numbers {
					if err := put(demographics.Record{NHS: nhs, FamilyName: fmt.Sprintf("Family%d", i), GivenName: "Given", DOB: day("2015-03-04").AddDays(i % 3000)}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
			m := &Message{LA: "841", MessageID: "M1", File: "f.csv", SHA256: "00", State: Responded}
			if err := tx.NewMessage(m); err != nil {
				return err
			}
			var rows []RowOutcome
			for i, nhs := range numbers {
				if err := tx.PutPlan(plans.Plan{Key: plans.Key{NHS: nhs, LA: "841", Type: plans.CPP}, Start: day("2026-01-01").AddDays(i % 300), LocalID: fmt.Sprintf("C-%d", i)}); err != nil {
					return err
				}
				rows = append(rows, RowOutcome{Line: i + 2, LocalID: fmt.Sprintf("C-%d", i), NHSNumber: nhs})
			}
			return tx.PutOutcomes(m, rows)
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	b, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(func(tx *bolt.Tx) error {
		for _, m := range []struct {
			name   []byte
			toJSON func(v []byte) ([]byte, error)
		}{
			{bPlans, func(v []byte) ([]byte, error) { r, err := decodePlanRecord(v); must(t, err); return json.Marshal(r) }},
			{bDemographics, func(v []byte) ([]byte, error) { r, err := decodeDemographic(v); must(t, err); return json.Marshal(r) }},
			{bOutcomes, func(v []byte) ([]byte, error) { r, err := decodeRowOutcome(v); must(t, err); return json.Marshal(r) }},
		} {
			bk := tx.Bucket(m.name)
			var keys, values [][]byte
			if err := bk.ForEach(func(k, v []byte) error {
				js, err := m.toJSON(v)
				keys, values = append(keys, append([]byte(nil), k...)), append(values, js)
				return err
			}); err != nil {
				return err
			}
			for i := range keys {
				if err := bk.Put(keys[i], values[i]); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bMeta).Put(kSchema, []byte(jsonSchema))
	}); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	if err != nil {
		t.Fatal(err)
	}
}
