package ingest_test

// Hostile files (issue 6): each is dropped into an inbox and must end with
// its exact outcome (the whole response compared with a golden file under
// testdata/hostile/<case>/), and nothing else may change: the plans are
// the same before and after, and the only new files in the whole data dir
// are the returns' archive entries and their responses (with control
// files). Cases the acceptance suite (ingest_test.go) already has are not
// repeated: these are the variants it lacks. Regenerate the goldens with
//
//	go test ./batch/ingest -run 'Hostile' -update
//
// and review every changed file against batch/returns/returns.md.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"cpis/batch/hubtest"
	"cpis/batch/ingest"
	"cpis/batch/report"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
)

var hostileTestdata = hubtest.Testdata("hostile")

// hostileHeader is the DELTA header of the generated inputs.
const hostileHeader = "nhs_number,plan_type,start_date,end_date,due_date,local_id\n"

func text(s string) func(*testing.T, string) []byte {
	return func(*testing.T, string) []byte { return []byte(s) }
}

func gz(t *testing.T, s string) []byte { return gzipped(t, []byte(s)) }

// hostileSeed is what Darlington holds before every case: a FULL or DELTA
// return applied by mistake would change it.
func hostileSeed() []byte {
	return []byte(seedHeader + "\n" +
		"9990000018,841,CPP,2026-01-01,,,C-1\n" +
		"9990000026,841,LAC,2026-02-01,,,C-2\n" +
		"9990000034,841,CPP,2026-03-01,,,C-3\n")
}

func hostileCases() []hubCase {
	one := func(ins ...input) []step { return []step{{send: ins, unchanged: true}} }
	good := "9990000018,CPP,2026-03-02,,,C-1\n"
	return []hubCase{
		// F005: XML billion laughs (nested internal entities), an
		// external entity (file://), an external parameter entity and an
		// external DTD (never fetched), and an entity used without any
		// declaration.
		{name: "xml_entities", seed: hostileSeed, steps: one(
			input{file: "CPIS_841_DELTA_20261121_laughs.xml"},
			input{file: "CPIS_841_DELTA_20261121_xxe.xml"},
			input{file: "CPIS_841_DELTA_20261121_param.xml"},
			input{file: "CPIS_841_DELTA_20261121_extdtd.xml"},
			input{file: "CPIS_841_DELTA_20261121_undeclared.xml"},
		)},
		// F001: NUL bytes and invalid UTF-8 beyond f001_text: a NUL in the
		// header, UTF-16 with its BOM, an overlong encoding, an encoded
		// surrogate, a NUL and invalid UTF-8 in XML, a NUL inside gzip.
		{name: "text_nul_utf8", seed: hostileSeed, steps: one(
			input{file: "CPIS_841_DELTA_20261121_nulhead.csv", data: text("nhs_number,plan\x00_type,start_date,end_date,due_date,local_id\n" + good)},
			input{file: "CPIS_841_DELTA_20261121_utf16.csv", data: text(utf16LE(hostileHeader + good))},
			input{file: "CPIS_841_DELTA_20261121_overlong.csv", data: text(hostileHeader + "9990000018,CPP,2026-03-02,,,C\xC0\xAF1\n")},
			input{file: "CPIS_841_DELTA_20261121_surrogate.csv", data: text(hostileHeader + good + "9990000026,CPP,2026-03-02,,,C-\xED\xA0\x802\n")},
			input{file: "CPIS_841_DELTA_20261121_nul.xml", data: text(xmlDelta("<Plan><NHSNumber>9990000018</NHSNumber><PlanType>CPP</PlanType><StartDate>2026-03-02</StartDate><LocalId>C\x001</LocalId></Plan>"))},
			input{file: "CPIS_841_DELTA_20261121_ff.xml", data: text(xmlDelta("<Plan><NHSNumber>9990000018</NHSNumber><PlanType>CPP</PlanType><StartDate>2026-03-02</StartDate><LocalId>C\xFF1</LocalId></Plan>"))},
			input{file: "CPIS_841_DELTA_20261121_nulgz.csv.gz", data: func(t *testing.T, _ string) []byte {
				return gz(t, hostileHeader+good+"9990000026,CPP,2026-03-02,,,C\x002\n")
			}},
		)},
		// F005: a 2 MiB single line: the whole file one line (no line
		// end), a quoted field, CR-only line ends (not a line end in a
		// return), and a small gzip file that decompresses to one.
		{name: "long_line", seed: hostileSeed, steps: one(
			input{file: "CPIS_841_DELTA_20261121_oneline.csv", data: text(strings.Repeat("a", 2<<20))},
			input{file: "CPIS_841_DELTA_20261121_quoted.csv", data: text(hostileHeader + "9990000018,CPP,2026-03-02,,,\"" + strings.Repeat("x", 2<<20) + "\"\n")},
			input{file: "CPIS_841_DELTA_20261121_cr.csv", data: text(crOnly(2 << 20))},
			input{file: "CPIS_841_DELTA_20261121_long.csv.gz", data: func(t *testing.T, _ string) []byte {
				return gz(t, hostileHeader+good+"9990000026,CPP,2026-03-02,,,"+strings.Repeat("y", 2<<20)+"\n")
			}},
		)},
		// 10,000 columns: unknown header columns (F004), one column named
		// 10,000 times (F004), a record of 10,000 fields under a good
		// header (F005), a Plan of 10,000 unknown elements (F004).
		{name: "columns_10000", seed: hostileSeed, steps: one(
			input{file: "CPIS_841_DELTA_20261121_unknown.csv", data: text(manyColumns(10_000))},
			input{file: "CPIS_841_DELTA_20261121_repeated.csv", data: text(strings.TrimSuffix(strings.Repeat("nhs_number,", 10_000), ",") + "\n" + strings.TrimSuffix(strings.Repeat("9990000018,", 10_000), ",") + "\n")},
			input{file: "CPIS_841_DELTA_20261121_fields.csv", data: text(hostileHeader + good + "9990000026,CPP,2026-03-02,,,C-2" + strings.Repeat(",", 10_000-6) + "\n")},
			input{file: "CPIS_841_DELTA_20261121_elements.xml", data: text(manyElements(10_000))},
		)},
		// F002: names with spaces and Unicode (NFC and NFD), fullwidth
		// digits, a space around the name, a line feed in it. Each holds
		// a FULL return that would withdraw the seeded plans.
		{name: "names_space_unicode", seed: hostileSeed, steps: one(
			input{file: "CPIS_841_FULL_20261121 copy.csv", data: text(fullReturn)},
			input{file: "CPIS_841_FULL_20261121_é.csv", data: text(fullReturn)},
			input{file: "CPIS_841_FULL_20261121_e\u0301.csv", data: text(fullReturn)},
			input{file: "CPIS_\uff18\uff14\uff11_FULL_20261121.csv", data: text(fullReturn)},
			input{file: " CPIS_841_FULL_20261121.csv", data: text(fullReturn)},
			input{file: "CPIS_841_FULL_20261121.csv ", data: text(fullReturn)},
			input{file: "CPIS_841_FULL_20261121\n.csv", data: text(fullReturn)},
		)},
	}
}

// fullReturn names one child of the reference: applied, it would withdraw
// C-2 and C-3.
const fullReturn = "nhs_number,plan_type,start_date,end_date,due_date,local_id\n9990000018,CPP,2026-01-01,,,C-1\n"

func xmlDelta(plans string) string {
	return `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="DELTA" extractDate="2026-11-21">` + plans + "</CPISReturn>\n"
}

// utf16LE encodes ASCII s as UTF-16 little endian with its BOM.
func utf16LE(s string) string {
	b := []byte{0xFF, 0xFE}
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return string(b)
}

// crOnly is a DELTA of good rows separated by CR alone, at least n bytes.
func crOnly(n int) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(hostileHeader, "\n"))
	for b.Len() < n {
		b.WriteString("\r9990000018,CPP,2026-03-02,,,C-1")
	}
	b.WriteString("\n")
	return b.String()
}

// manyColumns is a DELTA with n columns: the four known ones first, then
// c00004 ... unknown ones, and one record.
func manyColumns(n int) string {
	cols := []string{"nhs_number", "plan_type", "start_date", "local_id"}
	vals := []string{"9990000018", "CPP", "2026-03-02", "C-1"}
	for i := len(cols); i < n; i++ {
		cols = append(cols, fmt.Sprintf("c%05d", i))
		vals = append(vals, "1")
	}
	return strings.Join(cols, ",") + "\n" + strings.Join(vals, ",") + "\n"
}

func manyElements(n int) string {
	var b strings.Builder
	b.WriteString("<Plan><NHSNumber>9990000018</NHSNumber><PlanType>CPP</PlanType><StartDate>2026-03-02</StartDate><LocalId>C-1</LocalId>")
	for i := 4; i < n; i++ {
		fmt.Fprintf(&b, "<E%05d/>", i)
	}
	b.WriteString("</Plan>")
	return xmlDelta(b.String())
}

func TestHostile(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHostileHub(t, c)
			for i, s := range c.steps {
				h.step(i+1, s)
			}
			h.finish()
		})
	}
}

// hostileHub is a hub whose case folder is testdata/hostile/<name>, and
// which checks that a step changes nothing in the data dir but what its
// results account for.
type hostileHub struct {
	*hub
	name string
}

func newHostileHub(t *testing.T, c hubCase) *hostileHub {
	t.Helper()
	h := newHub(t, c, false)
	h.caseDir = filepath.Join(hostileTestdata, c.name)
	fmt.Fprintf(&h.out, "# hostile case %s (run at %s; plans columns %s)\n", c.name, runAt.Format(time.RFC3339), seedHeader)
	h.describeState()
	return &hostileHub{hub: h, name: c.name}
}

// step runs s and checks the data dir: every change is one of a return's
// archive entries or one of its responses (with its control file).
func (h *hostileHub) step(n int, s step) []ingest.Result {
	t := h.t
	t.Helper()
	before := dirState(t, h.dir)
	plansBefore := h.plansCSV()
	results := h.do(context.Background(), n, s)
	if s.unchanged {
		if diff := cmp.Diff(plansBefore, h.plansCSV()); diff != "" {
			t.Errorf("step %d: the plans changed (-before +after):\n%s", n, diff)
		}
	}
	want := map[string]bool{}
	for _, p := range h.accountedFor(results) {
		want[p] = true
	}
	after := dirState(t, h.dir)
	for p, v := range after {
		old, had := before[p]
		switch {
		case !had && want[p]:
		case !had:
			t.Errorf("step %d: %s appeared in the data dir", n, p)
		case old != v:
			t.Errorf("step %d: %s changed (%s, then %s)", n, p, old, v)
		}
	}
	taken := map[string]bool{}
	for _, res := range results {
		inbox := local.Open(h.dir, mesh.MailboxID(res.LA)).InboxDir()
		for _, name := range []string{res.File, mesh.ControlName(res.File)} {
			if r, err := filepath.Rel(h.dir, filepath.Join(inbox, name)); err == nil {
				taken[r] = true
			}
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && !taken[p] {
			t.Errorf("step %d: %s disappeared from the data dir", n, p)
		}
	}
	for p := range want {
		if _, ok := after[p]; !ok {
			t.Errorf("step %d: %s is missing", n, p)
		}
	}
	return results
}

// accountedFor lists the data-dir paths the results' messages own: their
// archive entries and their responses with control files.
func (h *hostileHub) accountedFor(results []ingest.Result) []string {
	var out []string
	rel := func(p string) string {
		r, err := filepath.Rel(h.dir, p)
		if err != nil {
			h.t.Fatal(err)
		}
		return r
	}
	err := h.db.View(func(tx *store.Tx) error {
		for _, res := range results {
			err := tx.Messages(res.LA, func(m *store.Message) error {
				if m.MessageID != res.MessageID || m.File != res.File {
					return nil
				}
				out = append(out, rel(m.ArchivePath))
				if m.ControlPath != "" {
					out = append(out, rel(m.ControlPath))
				}
				box := local.Open(h.dir, m.MailboxID).OutboxDir()
				for _, r := range m.Responses {
					out = append(out, rel(filepath.Join(box, r.File)), rel(filepath.Join(box, mesh.ControlName(r.File))))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// finish runs ingest once more (nothing to do, nothing written, nothing
// changed) and compares the responses and the transcript with the goldens.
func (h *hostileHub) finish() {
	t := h.t
	t.Helper()
	before, plansBefore := dirState(t, h.dir), h.plansCSV()
	rep, err := ingest.Run(context.Background(), h.cfg)
	if err != nil {
		t.Fatalf("run again: %v", err)
	}
	if len(rep.Results) != 0 || len(rep.Failed) != 0 {
		t.Errorf("a run after the last step reported %+v, want nothing", rep)
	}
	if diff := cmp.Diff(before, dirState(t, h.dir)); diff != "" {
		t.Errorf("a run after the last step changed the data dir (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(plansBefore, h.plansCSV()); diff != "" {
		t.Errorf("a run after the last step changed the plans (-before +after):\n%s", diff)
	}
	golden := map[string][]byte{"transcript.golden.txt": []byte(h.out.String())}
	for i, r := range h.resps {
		name := fmt.Sprintf("response-%d.golden.csv", i+1)
		if len(h.resps) == 1 {
			name = "response.golden.csv"
		}
		golden[name] = r.content
	}
	hubtest.GoldenDir(t, h.caseDir, goldenName, golden)
}

// dirState describes every folder and file under dir but the store (which
// every run writes): a file by its size and, up to 1 MiB, its SHA-256
// (larger ones are inputs, read by the test no more than by the hub).
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == store.FileName {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out[rel] = "folder " + info.Mode().String()
		case !info.Mode().IsRegular():
			out[rel] = info.Mode().String()
		case info.Size() > 1<<20:
			out[rel] = fmt.Sprintf("%d bytes", info.Size())
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%d bytes %x", len(b), sha256.Sum256(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readChars returns how many bytes this process has read through system
// calls (rchar of /proc/self/io), or -1 where that is not known.
func readChars(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return -1
}

// gzipBomb is a gzip file of members at most limit bytes stored: a DELTA
// header, then members of 1 MiB of line feeds each (blank lines, skipped:
// good text that never ends), about a thousand times limit once
// decompressed.
func gzipBomb(t *testing.T, limit int64) (data []byte, decompressed int64) {
	t.Helper()
	head := gz(t, hostileHeader)
	m := gz(t, strings.Repeat("\n", 1<<20))
	n := (int(limit) - len(head)) / len(m)
	return append(head, bytes.Repeat(m, n)...), int64(len(hostileHeader)) + int64(n)<<20
}

// TestHostileSize: a 4 GiB file over the size limit is refused (F006)
// having read no more than the limit of it, and a gzip bomb of about 4 GiB
// (4 MiB stored, under the 4 MiB limit) is refused (F006) while it is
// decompressed. Not parallel: it counts the bytes this process reads.
func TestHostileSize(t *testing.T) {
	const limit = 4 << 20
	h := newHostileHub(t, hubCase{name: "size", seed: hostileSeed, sizeLimit: limit})
	inbox := local.Open(h.dir, mb841).InboxDir()

	// Sparse: 4 GiB on no disk space at all.
	const big = "CPIS_841_DELTA_20261121_big.csv"
	const huge = int64(4) << 30
	f, err := os.Create(filepath.Join(inbox, big))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(hostileHeader + "9990000018,CPP,2026-03-02,,,C-1\n"); err != nil {
		t.Fatal(err)
	}
	// Growing a file by truncation is POSIX and needs no disk space where
	// the file system has holes (ext4, XFS, Btrfs, tmpfs, APFS, NTFS). A
	// failure here is the environment's (a 4 GiB file size limit, as on
	// FAT32, or a ulimit -f), not a missing tool: fail, saying so, rather
	// than stop checking F006 on a huge file unseen.
	if err := f.Truncate(huge); err != nil {
		t.Fatalf("cannot make a 4 GiB sparse file in the test's temporary directory (set TMPDIR to a file system with sparse files and no file size limit): %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(inbox, big), sentAt, sentAt); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&h.out, "sent %s/inbox/%s (%d bytes, sparse)\n", mb841, big, huge)

	const bombName = "CPIS_841_DELTA_20261121_bomb.csv.gz"
	bomb, unpacked := gzipBomb(t, limit)
	if err := os.WriteFile(filepath.Join(inbox, bombName), bomb, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(inbox, bombName), sentAt, sentAt); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&h.out, "sent %s/inbox/%s (%d bytes stored, %d decompressed)\n", mb841, bombName, len(bomb), unpacked)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	read0, start := readChars(t), time.Now()
	results := h.step(1, step{unchanged: true})
	elapsed, read := time.Since(start), readChars(t)-read0
	runtime.ReadMemStats(&ms)

	var codes []string
	for _, r := range results {
		codes = append(codes, r.File+" "+string(r.Code)+"/"+string(r.Detail))
	}
	sort.Strings(codes)
	if want := []string{big + " CPF01/F006", bombName + " CPF01/F006"}; !cmp.Equal(codes, want) {
		t.Errorf("outcomes %q, want %q", codes, want)
	}
	// The bomb's stored bytes are read whole (its hash), the big file's at
	// most up to the limit: far less than the big file (it used to be read
	// whole to derive its message ID).
	if read0 >= 0 {
		t.Logf("the run read %d bytes through system calls in %v", read, elapsed)
		if read > 4*limit {
			t.Errorf("the run read %d bytes: the %d-byte file over the %d-byte limit was not refused while streaming", read, huge, limit)
		}
	}
	// Reading the whole bomb (4 billion blank lines) would take minutes
	// even without the race detector; stopping at the limit takes a
	// fraction of a second.
	if elapsed > 20*time.Second {
		t.Errorf("the run took %v: the gzip bomb (%d bytes decompressed) was not cut off at the limit", elapsed, unpacked)
	}
	if ms.HeapInuse > heapBefore+256<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", heapBefore, ms.HeapInuse)
	}
	h.finish()
}

// TestHostileFormulas sends a DELTA with a formula in every cell and one
// whose free-text cells (local_id, names, NHS number) begin with =, +, -
// or @: ordinary row outcomes, the values sent back to the LA as they were
// (batch/returns/returns.md: files for LA systems do not alter an LA's values). Then the
// operations report is made: no cell of the workbook is a formula, every
// such value is there as text, and the CSV export prefixes each with '.
func TestHostileFormulas(t *testing.T) {
	h := newHostileHub(t, hubCase{name: "formulas", seed: hostileSeed})
	formulas := []string{"=1+1", "+SUM(A1)", "-2", "@x", `=HYPERLINK("http://example.invalid/","click")`, "=cmd|' /C calc'!A0"}
	var every bytes.Buffer
	cw := csv.NewWriter(&every)
	header := []string{"nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id", "family_name", "given_name", "date_of_birth", "action"}
	_ = cw.Write(header)
	for i := range 4 {
		rec := make([]string, len(header))
		for j := range rec {
			rec[j] = formulas[(i+j)%len(formulas)]
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	mixed := "nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name\n" +
		// Accepted: hyphens are allowed in an NHS number; the names differ
		// from the reference (P005); visible until 2026-12-10 (Expiring).
		"-999-000-0042,CPP,2025-06-01,2025-12-10,,=1+1,+SUM(A1),@x\n" +
		"9990000050,LAC,2026-03-02,,,-2,\"=HYPERLINK(\"\"http://example.invalid/\"\",\"\"click\"\")\",=cmd|' /C calc'!A0\n" +
		// Rejected: a plus sign is not part of an NHS number (R002).
		"+9990000069,CPP,2026-03-02,,,@x,Frost,Finn\n"
	h.step(1, step{send: []input{
		{file: "CPIS_841_DELTA_20261121_every.csv", data: text(every.String())},
		{file: "CPIS_841_DELTA_20261121_mixed.csv", data: text(mixed)},
	}})

	// The responses carry the LA's values unaltered.
	for _, r := range h.resps {
		for _, f := range []string{"=1+1", "@x"} {
			if !bytes.Contains(r.content, []byte(","+f+",")) {
				t.Errorf("%s does not give back %q as sent", r.file, f)
			}
		}
	}

	rep, err := report.Collect(report.Config{DataDir: h.dir, DB: h.db, Now: runAt})
	if err != nil {
		t.Fatal(err)
	}
	var xlsx bytes.Buffer
	if err := rep.WriteXLSX(&xlsx); err != nil {
		t.Fatal(err)
	}
	wb, err := excelize.OpenReader(&xlsx)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	seen := map[string]bool{}
	cells := 0
	for _, sheet := range wb.GetSheetList() {
		rows, err := wb.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			for c, v := range row {
				ref, err := excelize.CoordinatesToCellName(c+1, r+1)
				if err != nil {
					t.Fatal(err)
				}
				cells++
				formula, err := wb.GetCellFormula(sheet, ref)
				if err != nil {
					t.Fatal(err)
				}
				if formula != "" {
					t.Errorf("%s!%s holds the formula %q (value %q)", sheet, ref, formula, v)
				}
				if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
					seen[v] = true
					typ, err := wb.GetCellType(sheet, ref)
					if err != nil {
						t.Fatal(err)
					}
					if typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
						t.Errorf("%s!%s = %q is a cell of type %v, want text", sheet, ref, v, typ)
					}
				}
			}
		}
	}
	for _, f := range formulas[:4] {
		if !seen[f] {
			t.Errorf("the workbook (%d cells) has no cell %q: the hostile values did not reach the report", cells, f)
		}
	}

	csvDir := t.TempDir()
	if err := rep.WriteCSV(csvDir); err != nil {
		t.Fatal(err)
	}
	prefixed := map[string]bool{}
	for _, name := range rep.CSVFiles() {
		recs, err := csv.NewReader(bytes.NewReader(hubtest.ReadFile(t, filepath.Join(csvDir, name)))).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, rec := range recs {
			for _, v := range rec {
				if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
					t.Errorf("%s line %d: %q would be a formula in a spreadsheet", name, i+1, v)
				}
				if s, ok := strings.CutPrefix(v, "'"); ok {
					prefixed[s] = true
				}
			}
		}
	}
	for _, f := range formulas[:4] {
		if !prefixed[f] {
			t.Errorf("the CSV export has no %q", "'"+f)
		}
	}
	h.finish()
}
