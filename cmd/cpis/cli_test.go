package main

// Tests of the CLI as users drive it: every test goes through run, the
// function main calls, with --data in a temporary directory and a fixed
// --now, and looks only at exit codes, stdout, stderr and the files a user
// would open.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cliNow is the --now of every test unless it says otherwise; its London
// date is 2026-11-22, so returns dated 2026-11-21 are in date.
const cliNow = "2026-11-22T02:30:00Z"

var (
	cliAuthorities  = filepath.Join("..", "..", "testdata", "authorities.csv")
	cliDemographics = filepath.Join("..", "..", "testdata", "demographics.csv")
)

func init() {
	// Other test files of this package may register -update too.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata")
	}
}

func cliUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// cliResult is what a user sees of one command.
type cliResult struct {
	code           int
	stdout, stderr string
}

func cliRun(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// cliHub is a data directory driven through the CLI.
type cliHub struct {
	t     *testing.T
	data  string // --data
	files string // where the test writes the files it hands to commands
}

func newCLIHub(t *testing.T) *cliHub {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	return &cliHub{t: t, data: filepath.Join(dir, "d"), files: files}
}

// initCLIHub is a hub made from testdata's authorities and demographics.
func initCLIHub(t *testing.T) *cliHub {
	h := newCLIHub(t)
	h.ok("init", "--authorities", cliAuthorities, "--pds", cliDemographics)
	return h
}

// run runs a command on the hub at cliNow.
func (h *cliHub) run(args ...string) cliResult {
	h.t.Helper()
	return h.runAt(cliNow, args...)
}

func (h *cliHub) runAt(now string, args ...string) cliResult {
	h.t.Helper()
	return cliRun(h.t, append([]string{"--data", h.data, "--now", now}, args...)...)
}

// ok runs a command that must succeed and returns its stdout.
func (h *cliHub) ok(args ...string) string {
	h.t.Helper()
	return h.okAt(cliNow, args...)
}

func (h *cliHub) okAt(now string, args ...string) string {
	h.t.Helper()
	r := h.runAt(now, args...)
	if r.code != exitOK {
		h.t.Fatalf("cpis %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if r.stderr != "" {
		h.t.Errorf("cpis %s: stderr %q, want none", strings.Join(args, " "), r.stderr)
	}
	return r.stdout
}

// file writes a file for a command to read and returns its path.
func (h *cliHub) file(name, content string) string {
	h.t.Helper()
	dir, err := os.MkdirTemp(h.files, "")
	if err != nil {
		h.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return path
}

var sentPattern = regexp.MustCompile(`^Sent (\S+) to (\S+) inbox as message (\S+)\.\n$`)

// send drops a return into LA la's inbox with cpis mailbox send and returns
// its message ID.
func (h *cliHub) send(la, name, content string) string {
	h.t.Helper()
	out := h.ok("mailbox", "send", "--la", la, h.file(name, content))
	m := sentPattern.FindStringSubmatch(out)
	if m == nil || m[1] != name {
		h.t.Fatalf("mailbox send printed %q", out)
	}
	return m[3]
}

// ingestJSON runs cpis ingest --json and returns its objects.
func (h *cliHub) ingestJSON() []map[string]any {
	h.t.Helper()
	return cliJSONLines(h.t, h.ok("ingest", "--json"))
}

func cliJSONLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for line := range strings.Lines(out) {
		var o map[string]any
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		objs = append(objs, o)
	}
	return objs
}

// plansExport returns cpis plans export's CSV.
func (h *cliHub) plansExport(args ...string) string {
	h.t.Helper()
	return h.ok(append([]string{"plans", "export"}, args...)...)
}

// outbox lists the data files in LA la's outbox.
func (h *cliHub) outbox(la string) []string {
	h.t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.data, "mailboxes", "LA"+la+"HC001", "outbox"))
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".csv") {
			names = append(names, e.Name())
		}
	}
	return names
}

// readCSV reads a CSV file the hub wrote.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

// crlf joins lines as a CSV file with CRLF line ends.
func crlf(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n"
}

func TestCLIExitCodes(t *testing.T) {
	h := initCLIHub(t)
	ret := h.file("CPIS_841_FULL_20261121.csv", crlf("nhs_number,plan_type,start_date,local_id", "9990276579,CPP,2026-03-02,C-1"))
	missing := filepath.Join(t.TempDir(), "absent")
	notInit := "cpis: open store " + filepath.Join(missing, "cpis.db") + ": no store in the data directory: run `cpis init` first\n"
	usage := func(msg string) string { return "cpis: " + msg + "\nRun 'cpis --help' for usage.\n" }
	tests := []struct {
		name       string
		args       []string
		code       int
		stderr     string // the whole stderr; "" means check only code
		wantStdout string // a substring of stdout
	}{
		{name: "help", args: []string{"--help"}, code: exitOK, wantStdout: "Exit codes: 0 done"},
		{name: "unknown command", args: []string{"bogus"}, code: exitUsage, stderr: usage(`unknown command "bogus" for "cpis"`)},
		{name: "unknown subcommand", args: []string{"mailbox", "bogus"}, code: exitUsage, stderr: usage(`unknown command "bogus" for "cpis mailbox"`)},
		{name: "no subcommand", args: []string{"returns"}, code: exitUsage, stderr: usage("cpis returns needs a subcommand")},
		{name: "unknown flag", args: []string{"ingest", "--bogus"}, code: exitUsage, stderr: usage("unknown flag: --bogus")},
		{name: "flag without value", args: []string{"init", "--authorities"}, code: exitUsage, stderr: usage("flag needs an argument: --authorities")},
		{name: "bad --now", args: []string{"--now", "yesterday", "ingest"}, code: exitUsage, stderr: usage(`--now "yesterday" is not an RFC 3339 time (e.g. 2026-11-22T02:30:00Z)`)},
		{name: "pds import without file", args: []string{"pds", "import"}, code: exitUsage, stderr: usage("accepts 1 arg(s), received 0")},
		{name: "release without ID", args: []string{"returns", "release"}, code: exitUsage, stderr: usage("accepts 1 arg(s), received 0")},
		{name: "discard with two IDs", args: []string{"returns", "discard", "a", "b"}, code: exitUsage, stderr: usage("accepts 1 arg(s), received 2")},
		{name: "send without file", args: []string{"mailbox", "send", "--la", "841"}, code: exitUsage, stderr: usage("requires at least 1 arg(s), only received 0")},
		{name: "send without --la", args: []string{"mailbox", "send", ret}, code: exitUsage, stderr: usage("--la CODE is required")},
		{name: "ingest with argument", args: []string{"ingest", "now"}, code: exitUsage, stderr: usage(`unknown command "now" for "cpis ingest"`)},
		{name: "init with neither", args: []string{"init"}, code: exitUsage, stderr: usage("give either --authorities FILE or --sample")},
		{name: "init with both", args: []string{"init", "--sample", "--authorities", cliAuthorities}, code: exitUsage, stderr: usage("give either --authorities FILE or --sample")},
		{name: "init sample with pds", args: []string{"init", "--sample", "--pds", cliDemographics}, code: exitUsage},
		{name: "demo with two dirs", args: []string{"demo", "a", "b"}, code: exitUsage, stderr: usage("accepts at most 1 arg(s), received 2")},

		{name: "no data dir: returns list", args: []string{"--data", missing, "returns", "list"}, code: exitFailure, stderr: notInit},
		{name: "no data dir: ingest", args: []string{"--data", missing, "ingest"}, code: exitFailure, stderr: notInit},
		{name: "no data dir: pds import", args: []string{"--data", missing, "pds", "import", cliDemographics}, code: exitFailure, stderr: notInit},
		{name: "no data dir: mailbox send", args: []string{"--data", missing, "mailbox", "send", "--la", "841", ret}, code: exitFailure, stderr: notInit},
		{name: "unknown LA: send", args: []string{"mailbox", "send", "--la", "999", ret}, code: exitFailure, stderr: "cpis: LA \"999\" is not one of the hub's authorities\n"},
		{name: "unknown LA: list", args: []string{"mailbox", "list", "--la", "999"}, code: exitFailure, stderr: "cpis: LA \"999\" is not one of the hub's authorities\n"},
		{name: "unknown LA: export", args: []string{"plans", "export", "--la", "999"}, code: exitFailure, stderr: "cpis: LA \"999\" is not one of the hub's authorities\n"},
		{name: "unknown LA: ingest", args: []string{"ingest", "--la", "841,999"}, code: exitFailure, stderr: "cpis: LA \"999\" is not one of the hub's authorities\n"},
		{name: "jobs --count 0", args: []string{"jobs", "--count", "0"}, code: exitUsage, stderr: "cpis: --count 0: want 1 to 1000\nRun 'cpis --help' for usage.\n"},
		{name: "audit --since in the future", args: []string{"audit", "--since", "2030-01-01"}, code: exitUsage, stderr: "cpis: --since 2030-01-01 is in the future: nothing could be listed\nRun 'cpis --help' for usage.\n"},
		{name: "audit --sftp --org", args: []string{"audit", "--sftp", "--org", "RXX01"}, code: exitUsage, stderr: "cpis: --org and --nhs select lookups; they do not apply with --sftp\nRun 'cpis --help' for usage.\n"},
		{name: "audit --mesh --nhs", args: []string{"audit", "--mesh", "--nhs", "9990276579"}, code: exitUsage, stderr: "cpis: --org and --nhs select lookups; they do not apply with --mesh\nRun 'cpis --help' for usage.\n"},
		{name: "malformed LA: ingest", args: []string{"ingest", "--la", "abc"}, code: exitUsage, stderr: "cpis: --la \"abc\": an LA code is 3 digits, such as 841\nRun 'cpis --help' for usage.\n"},
		{name: "malformed LA: send", args: []string{"mailbox", "send", "--la", "84", ret}, code: exitUsage, stderr: "cpis: --la \"84\": an LA code is 3 digits, such as 841\nRun 'cpis --help' for usage.\n"},
		{name: "malformed LA: export", args: []string{"plans", "export", "--la", "8411"}, code: exitUsage, stderr: "cpis: --la \"8411\": an LA code is 3 digits, such as 841\nRun 'cpis --help' for usage.\n"},
		{name: "send a file that is not there", args: []string{"mailbox", "send", "--la", "841", missing}, code: exitFailure},
		{name: "authorities file not there", args: []string{"--data", missing, "init", "--authorities", missing}, code: exitFailure},

		{name: "ok: returns list", args: []string{"returns", "list"}, code: exitOK, stderr: "", wantStdout: "No held or waiting returns.\n"},
		{name: "ok: ingest", args: []string{"ingest"}, code: exitOK, stderr: "", wantStdout: "No returns were waiting.\n"},
		{name: "ok: ingest one LA", args: []string{"ingest", "--la", "841"}, code: exitOK, stderr: "", wantStdout: "No returns were waiting.\n"},
		{name: "ok: mailbox list", args: []string{"mailbox", "list"}, code: exitOK, stderr: "", wantStdout: "Nothing waits in any mailbox.\n"},
		{name: "ok: expire", args: []string{"expire"}, code: exitOK, stderr: "", wantStdout: "Expire: 0 plan(s) no longer visible purged.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if !slices.Contains(args, "--data") {
				args = append([]string{"--data", h.data}, args...)
			}
			r := cliRun(t, append([]string{"--now", cliNow}, args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.code != exitOK && r.stderr == "" {
				t.Errorf("exit %d with nothing on stderr", r.code)
			}
			if tt.stderr != "" || tt.code == exitOK {
				if diff := cmp.Diff(tt.stderr, r.stderr); diff != "" {
					t.Errorf("stderr (-want +got):\n%s", diff)
				}
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", r.stdout, tt.wantStdout)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a failed command made %s", missing)
	}
}

func TestCLIInit(t *testing.T) {
	h := newCLIHub(t)
	out := h.ok("init", "--authorities", cliAuthorities, "--pds", cliDemographics)
	if want := "Initialised " + h.data + ": 153 local authorities, demographics reference imported.\n"; out != want {
		t.Errorf("init printed %q, want %q", out, want)
	}
	// Every LA of the file has its mailbox, with inbox and outbox.
	recs := readCSV(t, cliAuthorities)
	if len(recs) != 154 {
		t.Fatalf("%s has %d records, want 154", cliAuthorities, len(recs))
	}
	for _, rec := range recs[1:] {
		for _, sub := range []string{"inbox", "outbox"} {
			dir := filepath.Join(h.data, "mailboxes", "LA"+rec[0]+"HC001", sub)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				t.Errorf("mailbox folder %s: %v", dir, err)
			}
		}
	}
	for _, sub := range []string{"archive", "reports"} {
		if st, err := os.Stat(filepath.Join(h.data, sub)); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", sub, err)
		}
	}

	// A second init is refused and changes nothing; --force imports again
	// and keeps the plans.
	h.send("841", "CPIS_841_FULL_20261121.csv", crlf("nhs_number,plan_type,start_date,local_id", "9990276579,CPP,2026-03-02,C-1"))
	h.ingestJSON()
	before := h.plansExport()
	r := h.run("init", "--authorities", cliAuthorities)
	if r.code != exitFailure {
		t.Errorf("second init: exit %d, want 1", r.code)
	}
	want := "cpis: init " + h.data + ": the data directory already holds a hub (use --force to import into it again)\n"
	if diff := cmp.Diff(want, r.stderr); diff != "" {
		t.Errorf("second init stderr (-want +got):\n%s", diff)
	}
	out = h.ok("init", "--force", "--authorities", cliAuthorities)
	if want := "Initialised " + h.data + ": 153 local authorities, demographics reference imported.\n"; out != want {
		t.Errorf("init --force printed %q, want %q", out, want)
	}
	if diff := cmp.Diff(before, h.plansExport()); diff != "" {
		t.Errorf("init --force changed the plans (-before +after):\n%s", diff)
	}
}

func TestCLIInitWithoutDemographics(t *testing.T) {
	h := newCLIHub(t)
	out := h.ok("init", "--authorities", cliAuthorities)
	want := "Initialised " + h.data + ": 153 local authorities, no demographics reference yet (cpis pds import FILE).\n"
	if out != want {
		t.Errorf("init printed %q, want %q", out, want)
	}
	out = h.ok("pds", "import", cliDemographics)
	if want := "Imported 120 demographic records from " + cliDemographics + ".\n"; out != want {
		t.Errorf("pds import printed %q, want %q", out, want)
	}
}

func TestCLIInitBadAuthorities(t *testing.T) {
	const header = "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone"
	const good = "201,E09000001,City of London,London,,020 7946 0100,020 7946 0500"
	tests := []struct {
		name    string
		content string
		want    string // stderr after "cpis: FILE"
	}{
		{
			name:    "wrong header",
			content: crlf("la_code,gss_code,name,region,mailbox,emergency_phone,office_phone", good),
			want:    ` line 1: "la_code,gss_code,name,region,mailbox,emergency_phone,office_phone" is not the header ` + header,
		},
		{
			name:    "duplicate code",
			content: crlf(header, good, "202,E09000007,Camden,London,,020 7946 0101,", "201,E09000011,Greenwich,London,,020 7946 0102,"),
			want:    ` line 4: "201" repeats the LA code of line 2`,
		},
		{
			name:    "missing emergency phone",
			content: crlf(header, good, "202,E09000007,Camden,London,,,020 7946 0501"),
			want:    ` line 3: emergency_phone is required`,
		},
		{
			name:    "bad emergency phone",
			content: crlf(header, "202,E09000007,Camden,London,,999,"),
			want:    ` line 2: "999" is not a phone number`,
		},
		{
			name:    "bad la_code",
			content: crlf(header, good, "84,E06000005,Darlington,North East,,0191 498 0100,"),
			want:    ` line 3: "84" is not a 3-digit LA code`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newCLIHub(t)
			path := h.file("las.csv", tt.content)
			r := h.run("init", "--authorities", path, "--pds", cliDemographics)
			if r.code != exitFailure {
				t.Errorf("exit %d, want 1", r.code)
			}
			if diff := cmp.Diff("cpis: "+path+tt.want+"\n", r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want none", r.stdout)
			}
			if _, err := os.Stat(h.data); err == nil {
				t.Errorf("a refused init made %s", h.data)
			}
		})
	}
}

func TestCLIDataFromEnvironment(t *testing.T) {
	h := newCLIHub(t)
	t.Setenv("CPIS_DATA", h.data)
	r := cliRun(t, "--now", cliNow, "init", "--authorities", cliAuthorities)
	if r.code != exitOK || r.stdout != "Initialised "+h.data+": 153 local authorities, no demographics reference yet (cpis pds import FILE).\n" {
		t.Fatalf("init with CPIS_DATA: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(h.data, "cpis.db")); err != nil {
		t.Errorf("init with CPIS_DATA: %v", err)
	}
	if r := cliRun(t, "returns", "list"); r.code != exitOK || r.stdout != "No held or waiting returns.\n" {
		t.Errorf("returns list with CPIS_DATA: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// --data wins over the environment.
	other := filepath.Join(t.TempDir(), "other")
	if r := cliRun(t, "--data", other, "returns", "list"); r.code != exitFailure || !strings.Contains(r.stderr, other) {
		t.Errorf("returns list --data %s: exit %d, stderr %q", other, r.code, r.stderr)
	}
}

func TestCLIPDSImportBadFile(t *testing.T) {
	h := initCLIHub(t)
	// Line 2 is good and names someone else: had the import been kept in
	// part, 9990276579 would now be unknown.
	bad := h.file("pds-bad.csv", crlf(
		"nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death",
		"9990049319,Gillow,Eben,2009-02-14,,N,",
		"9993765570,Ashdown,Alfie,2016-13-05,,N,",
	))
	r := h.run("pds", "import", bad)
	if r.code != exitFailure {
		t.Errorf("pds import of a bad file: exit %d, want 1", r.code)
	}
	want := `cpis: demographics file "` + bad + `" line 3: date_of_birth "2016-13-05" is not a date (want YYYY-MM-DD)` + "\n"
	if diff := cmp.Diff(want, r.stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}

	// The previous reference still answers.
	id := h.send("841", "CPIS_841_FULL_20261120.csv", crlf(
		"nhs_number,plan_type,start_date,local_id,family_name,date_of_birth",
		"9990276579,CPP,2026-03-02,C-1,Hartwell,2016-05-12",
	))
	wantJSON := []map[string]any{{"la": "841", "message_id": id, "file": "CPIS_841_FULL_20261120.csv", "code": "CPF02", "detail_code": "",
		"read": 1.0, "applied": 1.0, "rejected": 0.0, "warnings": 0.0, "withdrawn": 0.0}}
	if diff := cmp.Diff(wantJSON, h.ingestJSON()); diff != "" {
		t.Errorf("ingest after the failed import (-want +got):\n%s", diff)
	}

	// A good import does replace it: the same number is now unknown.
	good := h.file("pds-good.csv", crlf(
		"nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death",
		"9990049319,Gillow,Eben,2009-02-14,,N,",
	))
	// The held plan's number left the reference: Darlington is told once.
	out := h.ok("pds", "import", good)
	if !strings.HasPrefix(out, "Imported 1 demographic records from "+good+".\nInactive NHS numbers: 1 row(s) for LA 841 in CPIS_841_INACTIVE_20261122_") {
		t.Errorf("pds import printed %q", out)
	}
	id = h.send("841", "CPIS_841_DELTA_20261121.csv", crlf(
		"nhs_number,plan_type,start_date,local_id",
		"9990276579,CPP,2026-03-02,C-1",
	))
	wantJSON = []map[string]any{{"la": "841", "message_id": id, "file": "CPIS_841_DELTA_20261121.csv", "code": "CPF04", "detail_code": "F010",
		"read": 1.0, "applied": 0.0, "rejected": 1.0, "warnings": 0.0, "withdrawn": 0.0}}
	if diff := cmp.Diff(wantJSON, h.ingestJSON()); diff != "" {
		t.Errorf("ingest after the good import (-want +got):\n%s", diff)
	}
}
