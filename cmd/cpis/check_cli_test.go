package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"cpis/store"
)

// dataTree describes every file under dir: its size and modification
// time, and for the store its whole content's hash; folders by name. A
// refused command leaves it as it was.
func dataTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%s %d %s", info.Mode(), info.Size(), info.ModTime().Format(time.RFC3339Nano))
		if d.IsDir() {
			desc = "dir " + info.Mode().String()
		}
		if rel == store.FileName && info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storeBolt changes the store file of a data dir with bbolt directly.
func storeBolt(t *testing.T, data string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(filepath.Join(data, store.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store file that is empty, truncated, not a bbolt file, or lacks the
// schema record is refused by every command with exit 1 and one sentence,
// and nothing in the data dir changes: no command makes it into a new
// empty store (a lookup would then answer "no alert").
func TestCLIDamagedStoreRefused(t *testing.T) {
	pageSize := int64(os.Getpagesize())
	damages := []struct {
		name   string
		damage func(t *testing.T, data string)
		detail string // what check prints after "cpis.db: "
	}{
		{"empty", func(t *testing.T, data string) {
			os.WriteFile(filepath.Join(data, store.FileName), nil, 0o600)
		}, "empty (0 bytes)"},
		{"not a bbolt file", func(t *testing.T, data string) {
			os.WriteFile(filepath.Join(data, store.FileName), []byte(strings.Repeat("la_code,name\n", 2000)), 0o600)
		}, "meta page 0: not a meta page"},
		{"truncated to three pages", func(t *testing.T, data string) {
			os.Truncate(filepath.Join(data, store.FileName), 3*pageSize)
		}, fmt.Sprintf("%d bytes, shorter than the ", 3*pageSize)},
		{"truncated mid-page", func(t *testing.T, data string) {
			os.Truncate(filepath.Join(data, store.FileName), 5*pageSize+1234)
		}, fmt.Sprintf("size %d is not a whole number of %d-byte pages", 5*pageSize+1234, pageSize)},
		{"no schema record", func(t *testing.T, data string) {
			storeBolt(t, data, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("schema")) })
		}, "no schema record"},
		{"authorities lost", func(t *testing.T, data string) {
			storeBolt(t, data, func(tx *bolt.Tx) error {
				if err := tx.DeleteBucket([]byte("authorities")); err != nil {
					return err
				}
				_, err := tx.CreateBucket([]byte("authorities"))
				return err
			})
		}, "authority 201 named by the schema record is missing"},
	}
	ret := crlf("nhs_number,plan_type,start_date,local_id", "9990276579,CPP,2026-03-02,C-1")
	for _, dm := range damages {
		t.Run(dm.name, func(t *testing.T) {
			h := initCLIHub(t)
			retFile := h.file("CPIS_841_FULL_20261121.csv", ret)
			backupFile := filepath.Join(t.TempDir(), "backup.db")
			dm.damage(t, h.data)
			old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := os.Chtimes(filepath.Join(h.data, store.FileName), old, old); err != nil {
				t.Fatal(err)
			}
			before := dataTree(t, h.data)
			refused := "cpis: cpis.db in " + h.data + " is empty or damaged: restore it from a backup; nothing was changed\n"
			initRefused := "cpis: cpis.db in " + h.data + " is empty or damaged: restore it from a backup, or move it aside and run init again to make a new hub; nothing was changed\n"
			tests := []struct {
				args           []string
				stdout, stderr string
			}{
				{args: []string{"ingest"}},
				{args: []string{"ingest", "--json"}},
				{args: []string{"lookup", "9990276579", "--org", "RXX01", "--org-name", "Example Hospital", "--setting", "ED", "--user", "A Clinician", "--role", "Staff Nurse", "--rbac", "B0264"}},
				{args: []string{"plans", "export"}},
				{args: []string{"returns", "list"}},
				{args: []string{"returns", "release", "20261121013000123456_3F9A0C"}},
				{args: []string{"mailbox", "list"}},
				{args: []string{"mailbox", "send", "--la", "841", retFile}},
				{args: []string{"keys", "list"}},
				{args: []string{"remotes", "list"}},
				{args: []string{"orgs", "list"}},
				{args: []string{"orgs", "add", "RXX01", "--name", "Example Hospital"}},
				{args: []string{"audit"}},
				{args: []string{"jobs"}},
				{args: []string{"expire"}},
				{args: []string{"notify"}},
				{args: []string{"nightly"}},
				{args: []string{"report"}},
				{args: []string{"pds", "import", cliDemographics}},
				{args: []string{"backup", backupFile}},
				{args: []string{"check"}, stdout: "cpis.db: " + dm.detail},
				{args: []string{"init", "--authorities", cliAuthorities}, stderr: initRefused},
				{args: []string{"init", "--force", "--authorities", cliAuthorities}, stderr: initRefused},
				{args: []string{"serve", "--no-http", "--no-sftp", "--no-scheduler"}},
			}
			for _, tt := range tests {
				if tt.stderr == "" {
					tt.stderr = refused
				}
				var stdout, stderr strings.Builder
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				code := run(ctx, append([]string{"--data", h.data, "--now", cliNow}, tt.args...), &stdout, &stderr)
				cancel()
				name := strings.Join(tt.args, " ")
				if code != exitFailure {
					t.Errorf("cpis %s: exit %d, want 1", name, code)
				}
				if diff := cmp.Diff(tt.stderr, stderr.String()); diff != "" {
					t.Errorf("cpis %s: stderr (-want +got):\n%s", name, diff)
				}
				if !strings.HasPrefix(stdout.String(), tt.stdout) || (tt.stdout == "" && stdout.Len() > 0) ||
					strings.Count(stdout.String(), "\n") > 1 {
					t.Errorf("cpis %s: stdout %q, want one line beginning %q, or nothing", name, stdout.String(), tt.stdout)
				}
				if diff := cmp.Diff(before, dataTree(t, h.data)); diff != "" {
					t.Fatalf("cpis %s changed the data dir (-before +after):\n%s", name, diff)
				}
			}
			if _, err := os.Stat(backupFile); err == nil {
				t.Error("backup of a damaged store wrote a file")
			}
		})
	}
}

// checkHub is a hub with one applied return of 841 (plans, a message and
// its row outcomes) for check to look at.
func checkHub(t *testing.T) *cliHub {
	h := initCLIHub(t)
	h.send("841", "CPIS_841_FULL_20261121.csv", crlf("nhs_number,plan_type,start_date,local_id",
		"9990276579,CPP,2026-03-02,C-1", "9990275831,LAC,2026-01-05,L-1", "12345,CPP,2026-03-02,C-2"))
	h.ingestJSON()
	return h
}

func TestCLICheckCleanStore(t *testing.T) {
	h := checkHub(t)
	r := h.run("check")
	want := cliResult{code: exitOK, stdout: "cpis.db in " + h.data + ": no problems (153 authorities, 2 plans, 1 message, 1 row outcome).\n"}
	if diff := cmp.Diff(want, r, cmp.AllowUnexported(cliResult{})); diff != "" {
		t.Errorf("check of a clean store (-want +got):\n%s", diff)
	}
}

// Each invariant broken on purpose, with bbolt directly, is reported on
// its own line naming bucket and key, with a summary, and exit 1.
func TestCLICheckReportsBrokenInvariants(t *testing.T) {
	pristine := checkHub(t)
	msg1 := binary.BigEndian.AppendUint64([]byte("841"), 1)
	put := func(bucket string, k, v []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Put(k, v) }
	}
	del := func(bucket string, k []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Delete(k) }
	}
	tests := []struct {
		name   string
		break_ func(tx *bolt.Tx) error
		lines  []string
	}{
		{"plan of an LA that is not an authority", func(tx *bolt.Tx) error {
			if err := put("plans", []byte("9990276579998CPP"), []byte(`{"s":"2026-01-01","l":"X"}`))(tx); err != nil {
				return err
			}
			return put("plans_by_la", []byte("9989990276579CPP"), nil)(tx)
		}, []string{"plans 9990276579/998/CPP: LA 998 is not among the authorities"}},
		{"plan without its index entry", del("plans_by_la", []byte("8419990276579CPP")),
			[]string{"plans 9990276579/841/CPP: has no plans_by_la entry"}},
		{"index entry without its plan", del("plans", []byte("9990275831841LAC")),
			[]string{"plans_by_la 841/9990275831/LAC: names no plan"}},
		{"message state outside the lifecycle", func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("messages"))
			v := strings.Replace(string(b.Get(msg1)), `"state":"responded"`, `"state":"gone"`, 1)
			return b.Put(msg1, []byte(v))
		}, []string{
			"messages 841:1: state gone is not a lifecycle state",
			"messages 841:1: is not finished (gone) but not in open_messages",
		}},
		{"message_ids entry missing", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("message_ids")).ForEach(func(k, _ []byte) error { return tx.Bucket([]byte("message_ids")).Delete(k) })
		}, []string{"messages 841:1: has no message_ids entry"}},
		{"message_files entry of no message", put("message_files", []byte("841"+strings.Repeat("0", 64)+"CPIS_841_FULL_20261120.csv"), binary.BigEndian.AppendUint64([]byte("841"), 7)),
			[]string{"message_files 841/" + strings.Repeat("0", 64) + "/CPIS_841_FULL_20261120.csv: names no message (841:7)"}},
		{"open_messages entry of a finished message", put("open_messages", msg1, nil),
			[]string{"open_messages 841:1: names a finished message"}},
		{"row outcome of no message", put("outcomes", binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte("202"), 9), 0), []byte(`{}`)),
			[]string{"outcomes 202:9/0: belongs to no message"}},
		{"authority not in the schema record", put("authorities", []byte("998"), []byte(`{"la_code":"998"}`)),
			[]string{"authorities 998: is not named in meta authorities"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			copyFile(t, filepath.Join(pristine.data, store.FileName), filepath.Join(data, store.FileName))
			storeBolt(t, data, tt.break_)
			r := cliRun(t, "--data", data, "check")
			authorities, plans := 153, 2
			switch tt.name {
			case "authority not in the schema record":
				authorities++
			case "plan of an LA that is not an authority":
				plans++
			case "index entry without its plan":
				plans--
			}
			summary := fmt.Sprintf("cpis.db in %s: %s (%d authorities, %s, 1 message, %s).", data, count(len(tt.lines), "problem", "problems"),
				authorities, count(plans, "plan", "plans"), count(1+strings.Count(tt.name, "row outcome"), "row outcome", "row outcomes"))
			want := cliResult{code: exitFailure, stdout: strings.Join(append(tt.lines, summary), "\n") + "\n"}
			if diff := cmp.Diff(want, r, cmp.AllowUnexported(cliResult{})); diff != "" {
				t.Errorf("check (-want +got):\n%s", diff)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
