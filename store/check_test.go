package store_test

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"cpis/store"
	"cpis/store/plans"
)

// checkedStore makes a store with what Check looks at: two authorities,
// plans, messages in several states (841:1 taken, 841:2 responded, 202:3
// held) and row outcomes of 841:1. It returns the store file's path.
func checkedStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := goodStore(t, dir)
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *store.Tx) error {
		for _, p := range []plans.Plan{
			{Key: plans.Key{NHS: "9990276579", LA: "202", Type: plans.LAC}, Start: date("2025-01-01"), LocalID: "L-1"},
			{Key: plans.Key{NHS: "9990275831", LA: "841", Type: plans.UCPP}, Start: date("2026-05-01"), LocalID: "U-1"},
		} {
			if err := tx.PutPlan(p); err != nil {
				return err
			}
		}
		for _, m := range []*store.Message{
			{LA: "841", MessageID: "M1", File: "CPIS_841_FULL_20261121.csv", SHA256: sha("a"), State: store.Taken},
			{LA: "841", MessageID: "M2", File: "CPIS_841_DELTA_20261122.csv", SHA256: sha("b"), State: store.Responded},
			{LA: "202", MessageID: "M3", File: "CPIS_202_FULL_20261121.csv", SHA256: sha("c"), State: store.Held},
		} {
			if err := tx.NewMessage(m); err != nil {
				return err
			}
			if m.MessageID == "M1" {
				if err := tx.PutOutcomes(m, []store.RowOutcome{{Line: 2, Code: "CPR04"}, {Line: 3, Code: "CPR06"}}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return path
}

func msgKey(la string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(la), seq)
}

func checkLines(t *testing.T, path string) ([]string, *store.CheckReport) {
	t.Helper()
	db, err := store.Open(filepath.Dir(path), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := db.Check()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.String())
	}
	return lines, rep
}

func TestCheckCleanStore(t *testing.T) {
	lines, rep := checkLines(t, checkedStore(t))
	if len(lines) != 0 || !rep.OK() {
		t.Errorf("problems in a clean store:\n%v", lines)
	}
	want := store.CheckReport{Authorities: 2, Plans: 3, Messages: 3, Outcomes: 2}
	if diff := cmp.Diff(&want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// Each invariant broken on purpose, with bbolt directly, is reported on
// one line naming the bucket and key.
func TestCheckFindsBrokenInvariants(t *testing.T) {
	put := func(bucket string, k, v []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Put(k, v) }
	}
	del := func(bucket string, k []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Delete(k) }
	}
	rewrite := func(key []byte, from, to string) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("messages"))
			v := string(b.Get(key))
			return b.Put(key, []byte(replaceOnce(t, v, from, to)))
		}
	}
	tests := []struct {
		name   string
		break_ func(tx *bolt.Tx) error
		want   []string
	}{
		{"plan of an unknown LA", func(tx *bolt.Tx) error {
			if err := put("plans", []byte("9990276579999CPP"), []byte(`{"s":"2026-01-01","l":"X"}`))(tx); err != nil {
				return err
			}
			return put("plans_by_la", []byte("9999990276579CPP"), nil)(tx)
		}, []string{"plans 9990276579/999/CPP: LA 999 is not among the authorities"}},
		{"plan without its index entry", del("plans_by_la", []byte("8419990276579CPP")),
			[]string{"plans 9990276579/841/CPP: has no plans_by_la entry"}},
		{"index entry without its plan", del("plans", []byte("9990275831841UCPP")),
			[]string{"plans_by_la 841/9990275831/UCPP: names no plan"}},
		{"plan key with a bad NHS number", put("plans", []byte("9990276578841CPP"), []byte(`{}`)),
			[]string{"plans 9990276578841CPP: malformed key: the NHS number is not valid"}},
		{"plan key with a bad type", put("plans_by_la", []byte("8419990276579XYZ"), nil),
			[]string{"plans_by_la 8419990276579XYZ: malformed key: the plan type is not CPP, LAC or UCPP"}},
		{"plan that does not decode", put("plans", []byte("9990276579841CPP"), []byte(`{`)),
			[]string{"plans 9990276579/841/CPP: does not decode"}},
		{"message state not in the lifecycle", rewrite(msgKey("841", 1), `"state":"taken"`, `"state":"lost"`),
			[]string{"messages 841:1: state lost is not a lifecycle state"}},
		{"message under another LA's key", rewrite(msgKey("202", 3), `"la":"202"`, `"la":"841"`),
			[]string{
				"messages 202:3: holds LA 841",
				"messages 202:3: has no message_ids entry",
				"messages 202:3: has no message_files entry",
				"message_ids 202/M3: names 202:3, a message with another ID",
				"message_files 202/" + sha("c") + "/CPIS_202_FULL_20261121.csv: names 202:3, a message with another file or content",
			}},
		{"message that does not decode", put("messages", msgKey("841", 2), []byte("{")),
			[]string{
				"messages 841:2: does not decode",
				"message_ids 841/M2: names no message (841:2)",
				"message_files 841/" + sha("b") + "/CPIS_841_DELTA_20261122.csv: names no message (841:2)",
			}},
		{"message of an unknown LA", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("messages")).Put(msgKey("999", 9), []byte(`{"la":"999","message_id":"M9","file":"f","sha256":"`+sha("d")+`","state":"responded"}`))
		}, []string{
			"messages 999:9: LA 999 is not among the authorities",
			"messages 999:9: has no message_ids entry",
			"messages 999:9: has no message_files entry",
		}},
		{"message_ids entry missing", del("message_ids", []byte("841M1")),
			[]string{"messages 841:1: has no message_ids entry"}},
		{"message_ids entry of no message", put("message_ids", []byte("841M9"), msgKey("841", 9)),
			[]string{"message_ids 841/M9: names no message (841:9)"}},
		{"message_ids naming a later message", put("message_ids", []byte("841M1"), msgKey("841", 2)),
			[]string{
				"messages 841:1: message_ids names a later message, 841:2",
				"message_ids 841/M1: names 841:2, a message with another ID",
			}},
		{"message_files entry missing", del("message_files", []byte("841"+sha("a")+"CPIS_841_FULL_20261121.csv")),
			[]string{"messages 841:1: has no message_files entry"}},
		{"message_files entry of no message", put("message_files", []byte("841"+sha("d")+"x.csv"), msgKey("841", 9)),
			[]string{"message_files 841/" + sha("d") + "/x.csv: names no message (841:9)"}},
		{"open message missing from open_messages", del("open_messages", msgKey("202", 3)),
			[]string{"messages 202:3: is not finished (held) but not in open_messages"}},
		{"finished message in open_messages", put("open_messages", msgKey("841", 2), nil),
			[]string{"open_messages 841:2: names a finished message"}},
		{"open_messages entry of no message", put("open_messages", msgKey("841", 9), nil),
			[]string{"open_messages 841:9: names no message"}},
		{"outcome of no message", put("outcomes", binary.BigEndian.AppendUint32(msgKey("202", 7), 4), []byte("{}")),
			[]string{"outcomes 202:7/4: belongs to no message"}},
		{"outcome key malformed", put("outcomes", []byte("841"), []byte("{}")),
			[]string{"outcomes 841: malformed key"}},
		{"authority not in the schema record", put("authorities", []byte("999"), []byte(`{"la_code":"999"}`)),
			[]string{"authorities 999: is not named in meta authorities"}},
		{"authority under another code", put("authorities", []byte("841"), []byte(`{"la_code":"842"}`)),
			[]string{"authorities 841: holds LA 842"}},
		{"web user under another email", put("web_users", []byte("a@example.org"), []byte(`{"email":"b@example.org","role":"ops"}`)),
			[]string{"web_users a@example.org: holds user b@example.org"}},
		{"web user of an unknown LA", put("web_users", []byte("a@example.org"), []byte(`{"email":"a@example.org","role":"la","la":"999"}`)),
			[]string{"web_users a@example.org: names LA 999, not an authority"}},
		{"web user of another role", put("web_users", []byte("a@example.org"), []byte(`{"email":"a@example.org","role":"admin"}`)),
			[]string{"web_users a@example.org: has role admin, not la or ops"}},
		{"web user of ops with an LA", put("web_users", []byte("a@example.org"), []byte(`{"email":"a@example.org","role":"ops","la":"841"}`)),
			[]string{"web_users a@example.org: is ops with LA 841"}},
		{"web user enrolled without a password", put("web_users", []byte("a@example.org"), []byte(`{"email":"a@example.org","role":"ops","enrolled":true,"totp_secret":"X"}`)),
			[]string{"web_users a@example.org: is enrolled without a password or authenticator"}},
		{"web user that does not decode", put("web_users", []byte("a@example.org"), []byte(`{`)),
			[]string{"web_users a@example.org: does not decode"}},
		{"web session of no user", put("web_sessions", []byte("h"), []byte(`{"email":"gone@example.org"}`)),
			[]string{"web_sessions h: is of gone@example.org, not a user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := checkedStore(t)
			boltUpdate(t, path, tt.break_)
			lines, rep := checkLines(t, path)
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if rep.Total != len(tt.want) || rep.OK() != (len(tt.want) == 0) {
				t.Errorf("Total %d, OK %v; want %d problems", rep.Total, rep.OK(), len(tt.want))
			}
		})
	}
}

func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("%q not in the record", from)
	}
	return s[:i] + to + s[i+len(from):]
}

// sha is a SHA-256 in hex made of one digit.
func sha(digit string) string { return strings.Repeat(digit, 64) }

// More problems than MaxProblems are counted, the first listed.
func TestCheckListsAtMostMaxProblems(t *testing.T) {
	path := checkedStore(t)
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("open_messages"))
		for i := range store.MaxProblems + 5 {
			if err := b.Put(msgKey("841", uint64(100+i)), nil); err != nil {
				return err
			}
		}
		return nil
	})
	lines, rep := checkLines(t, path)
	if len(lines) != store.MaxProblems || rep.Total != store.MaxProblems+5 {
		t.Errorf("listed %d, total %d; want %d listed of %d", len(lines), rep.Total, store.MaxProblems, store.MaxProblems+5)
	}
}

// Check while another goroutine writes sees one consistent moment: a
// clean store stays clean (bbolt's page check of a read transaction would
// otherwise mistake pages freed by later commits for damage).
func TestCheckWhileWriting(t *testing.T) {
	path := checkedStore(t)
	db, err := store.Open(filepath.Dir(path), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := db.Update(func(tx *store.Tx) error {
				k := plans.Key{NHS: validNHS(2000 + i%50), LA: "841", Type: plans.CPP}
				if i%100 >= 50 {
					_, err := tx.DeletePlan(k)
					return err
				}
				return tx.PutPlan(plans.Plan{Key: k, Start: date("2026-01-01"), LocalID: "W"})
			}); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 20 {
		rep, err := db.Check()
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Errorf("check while writing found problems in a clean store: %v", rep.Problems)
			break
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
