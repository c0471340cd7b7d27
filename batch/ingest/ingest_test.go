package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"cpis/batch/hubtest"
	"cpis/batch/ingest"
	"cpis/mesh"
	"cpis/store"
)

// Control-file message IDs: the DTSId of a return sent with a control file
// is its message ID, and so is in its response.
const (
	id1 = "20261121013000123456_3F9A0C"
	id2 = "20261121014500000002_00000B"
	id3 = "20261121020000000003_00000C"
)

// TestIngest is the acceptance suite of the nightly ingest: every code of
// batch/returns/returns.md produced by an input. Each case states its answers in the
// table (file code, detail code, row codes by line), checked against the
// run; each whole response is compared with its golden file under
// testdata/ingest/<case>/, with a transcript of what each step did (report
// lines, inboxes, open messages, plans). Run
// `go test ./batch/ingest -run TestIngest -update` to rewrite the goldens,
// then review every changed file against batch/returns/returns.md; -update never
// rewrites the table, so a golden rewritten with a wrong answer fails.
func TestIngest(t *testing.T) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runCase(t, c)
		})
	}
}

func cases() []hubCase {
	one := func(ins ...input) []step { return []step{{send: ins}} }
	return []hubCase{
		// ---- File outcomes.
		// CPF02: a FULL return with a BOM, CRLF, spaces and hyphens in
		// NHS numbers, D/M/YYYY dates and a lower-case plan type.
		{name: "cpf02_clean", steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF02"}}},
		// CPF02: a gzipped XML DELTA with a control file (IsCompressed Y):
		// one UPSERT and one DELETE (elements in any order).
		{name: "cpf02_xml_gz", steps: one(input{file: "CPIS_841_DELTA_20261121_weekly.xml", name: "CPIS_841_DELTA_20261121_weekly.xml.gz", gzip: true, ctl: id1}),
			want: []answer{{file: "CPIS_841_DELTA_20261121_weekly.xml.gz", code: "CPF02"}}},
		// CPF03: some rows rejected (R004, CPR01), one warning (P005);
		// Camden's plan is untouched by Darlington's FULL return.
		{name: "cpf03_mixed", steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R004", 4: "CPR06/P005", 5: "CPR01/P001"}}}},
		// F001: invalid UTF-8, a NUL byte, and a .gz that is not gzip.
		{name: "f001_text", steps: one(
			input{file: "CPIS_841_DELTA_20261121_ff.csv", data: placeholders},
			input{file: "CPIS_841_DELTA_20261121_nul.csv", data: placeholders},
			input{file: "CPIS_841_DELTA_20261121_notgz.csv.gz"},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121_ff.csv", code: "CPF01", detail: "F001"},
				{file: "CPIS_841_DELTA_20261121_notgz.csv.gz", code: "CPF01", detail: "F001"},
				{file: "CPIS_841_DELTA_20261121_nul.csv", code: "CPF01", detail: "F001"},
			}},
		// F002: names not as specified (a workbook with macros, a gzipped
		// workbook, unknown kind, not a real date, bad free text).
		{name: "f002_names", steps: one(
			input{file: "CPIS_841_FULL_20261121.xlsm"},
			input{file: "CPIS_841_DELTA_20261121.xlsx.gz"},
			input{file: "CPIS_841_WEEKLY_20261121.csv"},
			input{file: "CPIS_841_FULL_20261131.csv"},
			input{file: "CPIS_841_DELTA_20261121_not_free!.csv"},
		),
			want: []answer{
				{file: "CPIS_841_WEEKLY_20261121.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121.xlsx.gz", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_FULL_20261121.xlsm", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_FULL_20261131.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_not_free!.csv", code: "CPF01", detail: "F002"},
			}},
		// F002: control files that do not fit: From_DTS another mailbox,
		// To_DTS not the hub, WorkflowId wrong, DTSId not a message ID,
		// Encrypted Y, IsCompressed Y without .gz and N with .gz, and XML
		// that is not well-formed. Each is taken with a derived ID.
		{name: "f002_control_files", steps: one(
			input{file: "CPIS_841_DELTA_20261121_from.csv", ctlFile: "from.ctl"},
			input{file: "CPIS_841_DELTA_20261121_to.csv", ctlFile: "to.ctl"},
			input{file: "CPIS_841_DELTA_20261121_workflow.csv", ctlFile: "workflow.ctl"},
			input{file: "CPIS_841_DELTA_20261121_dtsid.csv", ctlFile: "dtsid.ctl"},
			input{file: "CPIS_841_DELTA_20261121_encrypted.csv", ctlFile: "encrypted.ctl"},
			input{file: "CPIS_841_DELTA_20261121_compressed.csv", ctlFile: "compressed.ctl"},
			input{file: "CPIS_841_DELTA_20261121_gz.csv.gz", gzip: true, ctlFile: "gz.ctl"},
			input{file: "CPIS_841_DELTA_20261121_malformed.csv", ctlFile: "malformed.ctl"},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121_encrypted.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_workflow.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_to.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_gz.csv.gz", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_dtsid.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_compressed.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_from.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_malformed.csv", code: "CPF01", detail: "F002"},
			}},
		// F002: two data files that would share one control file.
		{name: "f002_shared_control", steps: one(
			input{file: "CPIS_841_DELTA_20261121.csv"},
			input{file: "CPIS_841_DELTA_20261121.xml", ctlFile: "CPIS_841_DELTA_20261121.ctl"},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121.xml", code: "CPF01", detail: "F002"},
			}},
		// F002: XML roots without the namespace or disagreeing with the
		// name (la, extractDate, kind).
		{name: "f002_xml_root", steps: one(
			input{file: "CPIS_841_DELTA_20261121_nons.xml"},
			input{file: "CPIS_841_DELTA_20261121_la.xml"},
			input{file: "CPIS_841_DELTA_20261121_date.xml"},
			input{file: "CPIS_841_DELTA_20261121_kind.xml"},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121_date.xml", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_nons.xml", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_la.xml", code: "CPF01", detail: "F002"},
				{file: "CPIS_841_DELTA_20261121_kind.xml", code: "CPF01", detail: "F002"},
			}},
		// F003: a file naming Camden in Darlington's inbox is answered in
		// Darlington's outbox.
		{name: "f003_other_la", steps: one(input{file: "CPIS_202_DELTA_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_202_DELTA_20261121.csv", code: "CPF04", detail: "F003"}}},
		// F004: unknown column, repeated column (any case), FULL without
		// local_id, unknown XML element.
		{name: "f004_header", steps: one(
			input{file: "CPIS_841_DELTA_20261121_unknown.csv"},
			input{file: "CPIS_841_DELTA_20261121_repeated.csv"},
			input{file: "CPIS_841_FULL_20261121_nolocal.csv"},
			input{file: "CPIS_841_DELTA_20261121_element.xml"},
			input{file: "CPIS_841_DELTA_20261121_empty.csv"},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121_unknown.csv", code: "CPF01", detail: "F004"},
				{file: "CPIS_841_DELTA_20261121_repeated.csv", code: "CPF01", detail: "F004"},
				{file: "CPIS_841_DELTA_20261121_element.xml", code: "CPF01", detail: "F004"},
				{file: "CPIS_841_FULL_20261121_nolocal.csv", code: "CPF01", detail: "F004"},
				{file: "CPIS_841_DELTA_20261121_empty.csv", code: "CPF01", detail: "F004"},
			}},
		// F005: wrong field count (line given), a bare quote after a
		// blank line, a line over 1 MiB, an XML DTD with an entity, an
		// XML element repeated in a Plan.
		{name: "f005_structure", steps: one(
			input{file: "CPIS_841_DELTA_20261121_fields.csv"},
			input{file: "CPIS_841_DELTA_20261121_quote.csv"},
			input{file: "CPIS_841_DELTA_20261121_long.csv", data: longLine},
			input{file: "CPIS_841_DELTA_20261121_dtd.xml"},
			input{file: "CPIS_841_DELTA_20261121_repeated.xml"},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121_repeated.xml", code: "CPF01", detail: "F005"},
				{file: "CPIS_841_DELTA_20261121_fields.csv", code: "CPF01", detail: "F005"},
				{file: "CPIS_841_DELTA_20261121_quote.csv", code: "CPF01", detail: "F005"},
				{file: "CPIS_841_DELTA_20261121_dtd.xml", code: "CPF01", detail: "F005"},
				{file: "CPIS_841_DELTA_20261121_long.csv", code: "CPF01", detail: "F005"},
			}},
		// F006: over the size limit as stored (before the name is
		// checked), and a gzip bomb over it once decompressed.
		// More rows than a return may have: F006 before any is evaluated.
		{name: "f006_rows", maxRows: 3, steps: one(input{file: "CPIS_841_DELTA_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF01", detail: "F006"}}},
		{name: "f006_size", sizeLimit: 1000, steps: one(
			input{file: "CPIS_841_DELTA_20261121_big.csv", data: rowsOf(30)},
			input{file: "CPIS_841_DELTA_20261121_big.xlsx", data: rowsOf(31)},
			input{file: "CPIS_841_DELTA_20261121_bomb.csv.gz", data: rowsOf(100), gzip: true},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121_big.xlsx", code: "CPF01", detail: "F006"},
				{file: "CPIS_841_DELTA_20261121_bomb.csv.gz", code: "CPF01", detail: "F006"},
				{file: "CPIS_841_DELTA_20261121_big.csv", code: "CPF01", detail: "F006"},
			}},
		// F007: the same DTSId again, on another file.
		{name: "f007_same_dtsid", steps: []step{
			{send: []input{{file: "CPIS_841_FULL_20261121.csv", ctl: id1}}},
			{send: []input{{file: "CPIS_841_DELTA_20261121.csv", ctl: id1}}, unchanged: true},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF02"},
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF04", detail: "F007"},
			}},
		// F007: the same name and content without a control file, sent
		// again (a new modification time, so a new derived ID) after the
		// first was taken.
		{name: "f007_same_content", steps: []step{
			{send: []input{{file: "CPIS_841_DELTA_20261121.csv"}}},
			{send: []input{{file: "CPIS_841_DELTA_20261121.csv", at: sentAt.Add(20 * time.Hour)}}, unchanged: true},
		},
			want: []answer{
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02"},
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF04", detail: "F007"},
			}},
		// Not a repeat: two files with other names but the same content
		// and modification time; each gets a derived message ID of its
		// own (the second one's from its name too).
		{name: "derived_id_not_repeat", steps: one(
			input{file: "CPIS_841_DELTA_20261121_a.csv"},
			input{file: "CPIS_841_DELTA_20261121_b.csv"},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121_a.csv", code: "CPF02"},
				{file: "CPIS_841_DELTA_20261121_b.csv", code: "CPF02"},
			}},
		// F008: dated after today (today's date is fine).
		{name: "f008_after_today", steps: one(
			input{file: "CPIS_841_DELTA_20261123.csv", ctl: id1},
			input{file: "CPIS_841_DELTA_20261122.csv", ctl: id2},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261123.csv", code: "CPF04", detail: "F008"},
				{file: "CPIS_841_DELTA_20261122.csv", code: "CPF02"},
			}},
		// F008: dated before the newest applied return.
		{name: "f008_before_applied", steps: []step{
			{send: []input{{file: "CPIS_841_DELTA_20261121.csv", ctl: id1}}},
			{send: []input{{file: "CPIS_841_FULL_20261120.csv", ctl: id2}}, unchanged: true},
		},
			want: []answer{
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02"},
				{file: "CPIS_841_FULL_20261120.csv", code: "CPF04", detail: "F008"},
			}},
		// F009 then release: 25 plans held, a FULL return naming 3 of
		// them would withdraw 22; released, it is applied (CPF02) with
		// its rows listed again.
		{name: "f009_held_release", steps: []step{
			{send: []input{{file: "CPIS_841_FULL_20261121.csv", ctl: id1}}},
			{release: id1},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F009", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF02", rows: rows{3: "CPR06/P005"}},
			}},
		// F009 then discard (F012).
		{name: "f012_held_discard", steps: []step{
			{send: []input{{file: "CPIS_841_FULL_20261121.csv", ctl: id1}}},
			{discard: id1, unchanged: true},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F009", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F012"},
			}},
		// F011: a held FULL return superseded by a later FULL return that
		// is applied (it withdraws 19 of 25: under the hold).
		{name: "f011_superseded", steps: []step{
			{send: []input{{file: "CPIS_841_FULL_20261120.csv", ctl: id1}}},
			{send: []input{{file: "CPIS_841_FULL_20261121.csv", ctl: id2}}},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261120.csv", code: "CPF04", detail: "F009", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_FULL_20261120.csv", code: "CPF04", detail: "F011"},
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF02"},
			}},
		// F011: a held FULL return superseded by a later FULL return that
		// is held in turn.
		{name: "f011_superseded_by_held", steps: []step{
			{send: []input{{file: "CPIS_841_FULL_20261120.csv", ctl: id1}}},
			{send: []input{{file: "CPIS_841_FULL_20261121.csv", ctl: id2}}},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261120.csv", code: "CPF04", detail: "F009", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_FULL_20261120.csv", code: "CPF04", detail: "F011"},
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F009"},
			}},
		// A DELTA dated after a held FULL waits untaken in the inbox, with
		// no response, until the FULL is released.
		{name: "delta_waits_behind_held", steps: []step{
			{send: []input{{file: "CPIS_841_FULL_20261120.csv", ctl: id2}, {file: "CPIS_841_DELTA_20261121.csv", ctl: id1}}},
			{unchanged: true},
			{release: id2},
			{},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261120.csv", code: "CPF04", detail: "F009", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_FULL_20261120.csv", code: "CPF02", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02"},
			}},
		// A DELTA dated the same day as a held FULL comes after it (FULL
		// before DELTA on a date): it waits too.
		{name: "delta_same_day_waits_behind_held", steps: []step{
			{send: []input{{file: "CPIS_841_FULL_20261121.csv", ctl: id2}, {file: "CPIS_841_DELTA_20261121.csv", ctl: id1}}},
			{unchanged: true},
			{release: id2},
			{},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F009", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF02", rows: rows{3: "CPR06/P005"}},
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02"},
			}},
		// On the same date FULL comes before DELTA, whatever the message
		// IDs say: the DELTA's DELETE removes what the FULL stored.
		{name: "full_before_delta", steps: one(
			input{file: "CPIS_841_DELTA_20261121.csv", ctl: id1},
			input{file: "CPIS_841_FULL_20261121.csv", ctl: id2},
		),
			want: []answer{
				{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02"},
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF02"},
			}},
		// F010: two of three rows rejected: nothing applied (the DELETE
		// does not happen), the rows are listed.
		{name: "f010_half_rejected", steps: one(input{file: "CPIS_841_DELTA_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF04", detail: "F010", rows: rows{3: "CPR07/R005", 4: "CPR01/P001"}}}},
		// CPF05: no demographics reference: the return waits (a second
		// run does nothing); after an import the result follows.
		// F008 and F003 come before CPF05.
		{name: "cpf05_no_demographics", pds: "-", steps: []step{
			{send: []input{
				{file: "CPIS_841_FULL_20261121.csv", ctl: id1},
				{file: "CPIS_841_DELTA_20261123.csv", ctl: id2},
				{file: "CPIS_202_DELTA_20261121.csv", ctl: id3},
			}},
			{},
			{importPDS: "../demographics.csv"},
		},
			want: []answer{
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF05"},
				{file: "CPIS_841_DELTA_20261123.csv", code: "CPF04", detail: "F008"},
				{file: "CPIS_202_DELTA_20261121.csv", code: "CPF04", detail: "F003"},
				{file: "CPIS_841_FULL_20261121.csv", code: "CPF03", rows: rows{3: "CPR01/P001"}},
			}},

		// CPIS, the kind and the extension in any case; free text.
		{name: "name_case_insensitive", steps: one(input{file: "cpis_841_Delta_20261121_Weekly-2.CSV"}),
			want: []answer{{file: "cpis_841_Delta_20261121_Weekly-2.CSV", code: "CPF02"}}},
		// line is the physical line where a record starts: CRLF, a quoted
		// field over two lines, a blank line.
		{name: "line_numbers", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{2: "CPR06/P005", 5: "CPR07/R004"}}}},

		// Work in progress is never read: a data file modified less than
		// 10 seconds ago without a control file waits (with one it is
		// complete), names ending .filepart or starting "." are skipped.
		{name: "not_settled", steps: []step{{send: []input{
			{file: "CPIS_841_DELTA_20261121_fresh.csv", fresh: true},
			{file: "CPIS_841_DELTA_20261121_ctl.csv", fresh: true, ctl: id1},
			{file: "CPIS_841_DELTA_20261121_part.csv", name: "CPIS_841_DELTA_20261121_part.csv.filepart"},
			{file: "CPIS_841_DELTA_20261121_part.csv", name: ".CPIS_841_DELTA_20261121_part.csv"},
		}}},
			want: []answer{{file: "CPIS_841_DELTA_20261121_ctl.csv", code: "CPF02"}}},

		// ---- Row outcomes: each DELTA mixes accepted rows (G-) with the
		// rows under test (R- rejected, W- warned), at most half rejected.
		{name: "r001_nhs_missing", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR04/R001", 4: "CPR04/R001"}}}},
		{name: "r002_nhs_not_ten_digits", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR04/R002", 4: "CPR04/R002", 5: "CPR04/R002"}}}},
		{name: "r003_nhs_check", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR04/R003", 4: "CPR04/R003", 5: "CPR04/R003"}}}},
		{name: "r004_plan_type", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R004", 4: "CPR07/R004"}}}},
		{name: "r005_start_date", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R005", 4: "CPR07/R005", 5: "CPR07/R005"}}}},
		// A DELTA without a start_date column: R005 on each non-DELETE row.
		{name: "r005_no_start_column", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R005"}}}},
		{name: "r006_end_date", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R006", 4: "CPR07/R006"}}}},
		{name: "r007_after_extract", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R007", 4: "CPR07/R007"}}}},
		{name: "r008_ucpp_due", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R008", 4: "CPR07/R008"}}}},
		// R009: both rows of a (number, type) rejected, the number matched
		// after normalisation; a row already rejected (R005) does not
		// count, another plan type is another key.
		{name: "r009_duplicates", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R009", 4: "CPR07/R009", 5: "CPR07/R005"}}}},
		{name: "r010_local_id", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R010", 4: "CPR07/R010", 5: "CPR07/R010"}}}},
		{name: "r011_action_delta", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R011"}}}},
		{name: "r011_action_full", steps: one(input{file: "CPIS_841_FULL_20261121.csv"}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R011"}}}},
		{name: "r012_date_of_birth", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R012"}}}},
		{name: "r013_name", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR07/R013"}}}},
		{name: "cpr01_unknown", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR01/P001"}}}},
		{name: "cpr02_sensitive", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR02/P002"}}}},
		// CPR03: the child's date of birth, and a UCPP mother's.
		{name: "cpr03_date_of_birth", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR03/P003", 4: "CPR03/P003"}}}},
		// CPR05: A->B->C, sent as A or as B, names C.
		{name: "cpr05_superseded", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF03", rows: rows{3: "CPR05/P004", 4: "CPR05/P004"}}}},
		// P005: one name, both names (one warning row); no warning after
		// case folding and without apostrophes and spaces, nor when the
		// reference has no name.
		{name: "cpr06_p005_name", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02", rows: rows{2: "CPR06/P005", 4: "CPR06/P005"}}}},
		{name: "cpr06_p006_death", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02", rows: rows{2: "CPR06/P006"}}}},
		// W001: ended more than 365 days before the extract date, a UCPP
		// past due+28, a CPP past 18th birthday+365: not stored, and the
		// held plan with that key removed; on the last visible day (end +
		// 365, due + 28) a row is stored.
		{name: "w001_not_visible", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02", rows: rows{2: "CPR06/W001", 3: "CPR06/W001", 4: "CPR06/W001"}}}},
		{name: "w002_due_date", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02", rows: rows{2: "CPR06/W002", 3: "CPR06/W002"}}}},
		// W003: DELETE of a plan not held (Camden's plan is not
		// Darlington's); DELETE of a plan held under a superseded number
		// works (not reconciled).
		{name: "w003_delete_not_held", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02", rows: rows{3: "CPR06/W003", 5: "CPR06/W003"}}}},
		// Several warnings on one row, one response row each, in code
		// order: P005, P006, W001, W002.
		{name: "warnings_several", steps: one(input{file: "CPIS_841_DELTA_20261121.csv"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.csv", code: "CPF02", rows: rows{2: "CPR06/P005 CPR06/P006 CPR06/W001 CPR06/W002", 4: "CPR06/P006 CPR06/W002"}}}},

		// XML rows: a Plan without NHSNumber is R001, an empty element an
		// empty cell; line is the Plan ordinal; entities decoded.
		{name: "xml_rows", steps: one(input{file: "CPIS_841_DELTA_20261121.xml"}),
			want: []answer{{file: "CPIS_841_DELTA_20261121.xml", code: "CPF03", rows: rows{2: "CPR04/R001", 3: "CPR07/R004", 4: "CPR06/P005"}}}},

		// ---- FULL withdrawal rules.
		{name: "full_withdraws_absent", steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF02"}}},
		// A rejected row (R006, CPR05) protects every plan under its
		// number.
		{name: "full_rejected_protects_nhs", steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF03", rows: rows{2: "CPR07/R006", 5: "CPR05/P004"}}}},
		// A CPR04 row protects every plan with its local_id.
		{name: "full_cpr04_protects_local_id", steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF03", rows: rows{2: "CPR04/R003"}}}},

		// ---- Safety hold boundary (V = 199 visible plans).
		{name: "hold_w20_of_199", pdsData: people(199), seed: heldPlans(199),
			steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1, data: fullOf(179)}),
			want:  []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F009"}}},
		{name: "hold_w19_of_199", pdsData: people(199), seed: heldPlans(199),
			steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1, data: fullOf(180)}),
			want:  []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF02"}}},
		// Only visible plans count: withdrawing 25 plans no longer visible
		// (not yet purged) and none visible is not held.
		{name: "hold_counts_visible_only", seed: visibleAndNot(3, 25), steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF02"}}},
		// A FULL return with a header and no rows (a truncated upload)
		// would withdraw every plan: held.
		{name: "full_header_only", steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F009"}}},
		// W = V = 3: held however small.
		{name: "hold_all_of_3", steps: one(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1}),
			want: []answer{{file: "CPIS_841_FULL_20261121.csv", code: "CPF04", detail: "F009"}}},
	}
}

// placeholders reads the case file and replaces <FF> and <NUL> by those
// bytes, so the fixture itself stays readable text.
func placeholders(t *testing.T, path string) []byte {
	b := hubtest.ReadFile(t, path)
	b = bytes.ReplaceAll(b, []byte("<FF>"), []byte{0xFF})
	return bytes.ReplaceAll(b, []byte("<NUL>"), []byte{0})
}

// longLine is a DELTA whose second record is over 1 MiB.
func longLine(*testing.T, string) []byte {
	return []byte("nhs_number,plan_type,start_date,end_date,due_date,local_id\n" +
		"9990000018,CPP,2026-03-02,,,C-1001\n" +
		"9990000026,CPP,2026-03-02,,," + strings.Repeat("x", 1<<20) + "\n")
}

// rowsOf is a DELTA of n identical rows (never read past the size check).
func rowsOf(n int) func(*testing.T, string) []byte {
	return func(*testing.T, string) []byte {
		return []byte("nhs_number,plan_type,start_date,end_date,due_date,local_id\n" +
			strings.Repeat("9990000018,CPP,2026-03-02,,,C-1001\n", n))
	}
}

// The safety-hold cases: person i is validNHS(5000, i), in the reference
// and holding one open CPP of Darlington.
func people(n int) func() []byte {
	return func() []byte {
		var b bytes.Buffer
		b.WriteString("nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n")
		for i := range n {
			fmt.Fprintf(&b, "%s,,,2015-01-01,,N,\n", validNHS(5000, i))
		}
		return b.Bytes()
	}
}

func heldPlans(n int) func() []byte {
	return func() []byte {
		var b bytes.Buffer
		b.WriteString(seedHeader + "\n")
		for i := range n {
			fmt.Fprintf(&b, "%s,841,CPP,2026-01-01,,,H-%d\n", validNHS(5000, i), i+1)
		}
		return b.Bytes()
	}
}

// visibleAndNot holds the plans C-1..C-n of Ashby, Brook, ... (visible)
// and m plans that ended on 2024-01-01 (not visible since 2025-01-01).
func visibleAndNot(n, m int) func() []byte {
	return func() []byte {
		var b bytes.Buffer
		b.WriteString(seedHeader + "\n")
		for i := range n {
			fmt.Fprintf(&b, "%s,841,CPP,2026-01-01,,,C-%d\n", validNHS(1, i), i+1)
		}
		for i := range m {
			fmt.Fprintf(&b, "%s,841,CPP,2023-01-01,2024-01-01,,OLD-%d\n", validNHS(5000, i), i+1)
		}
		return b.Bytes()
	}
}

// fullOf is a FULL return naming the first n of those plans.
func fullOf(n int) func(*testing.T, string) []byte {
	return func(*testing.T, string) []byte {
		var b bytes.Buffer
		b.WriteString("nhs_number,plan_type,start_date,end_date,due_date,local_id\n")
		for i := range n {
			fmt.Fprintf(&b, "%s,CPP,2026-01-01,,,H-%d\n", validNHS(5000, i), i+1)
		}
		return b.Bytes()
	}
}

// TestIngestReport runs two LAs with two returns each and compares the
// report (cpis ingest --json) whole: ordered by LA, then message ID.
func TestIngestReport(t *testing.T) {
	h := newHub(t, hubCase{name: "report_multi_la"}, true)
	results := h.do(context.Background(), 1, step{send: []input{
		{file: "CPIS_841_DELTA_20261121.csv", ctl: id2},
		{file: "CPIS_841_FULL_20261120.csv", ctl: id3},
		{file: "CPIS_202_FULL_20261121.csv", mb: mb202, ctl: id1},
		{file: "CPIS_202_DELTA_20261122.xml", mb: mb202, ctl: id3},
		{file: "CPIS_202_FULL_20261121_x.csv", mb: mb202},
	}})
	// The derived ID of the last file: its modification time and the
	// first 6 hex digits of the SHA-256 of its content.
	derived := "20261121013000123456_" + shaPrefix(t, filepath.Join(h.caseDir, "CPIS_202_FULL_20261121_x.csv"))
	want := []ingest.Result{
		{LA: "202", MessageID: id1, File: "CPIS_202_FULL_20261121.csv", Code: "CPF03",
			Counts: store.Counts{Read: 3, Applied: 2, Rejected: 1}},
		{LA: "202", MessageID: derived, File: "CPIS_202_FULL_20261121_x.csv", Code: "CPF01", Detail: "F004"},
		{LA: "202", MessageID: id3, File: "CPIS_202_DELTA_20261122.xml", Code: "CPF02",
			Counts: store.Counts{Read: 2, Applied: 2, Warnings: 1, Withdrawn: 1}},
		{LA: "841", MessageID: id2, File: "CPIS_841_DELTA_20261121.csv", Code: "CPF02",
			Counts: store.Counts{Read: 1, Applied: 1}},
		{LA: "841", MessageID: id3, File: "CPIS_841_FULL_20261120.csv", Code: "CPF02",
			Counts: store.Counts{Read: 2, Applied: 2}},
	}
	if diff := cmp.Diff(want, results, cmpopts.IgnoreFields(ingest.Result{}, "Response")); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	golden := map[string][]byte{"transcript.golden.txt": []byte(h.out.String())}
	for i, r := range h.resps {
		golden[fmt.Sprintf("response-%d.golden.csv", i+1)] = r.content
	}
	hubtest.GoldenDir(t, h.caseDir, goldenName, golden)
}

// TestExactlyOnce checks the lifecycle end to end: the return and its
// control file are archived under archive/<MAILBOX>/in/<message ID>_<name>,
// the inbox is empty, one response is written, and a second run takes
// nothing and writes nothing.
func TestExactlyOnce(t *testing.T) {
	ctx := context.Background()
	h := newHub(t, hubCase{name: "cpf02_clean"}, true)
	h.put(input{file: "CPIS_841_FULL_20261121.csv", ctl: id1})
	rep, err := ingest.Run(ctx, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Code != "CPF02" {
		t.Fatalf("first run: %+v, want one CPF02", rep.Results)
	}
	archive := filepath.Join(h.dir, "archive", mb841, "in")
	got := listDir(t, archive)
	want := []string{id1 + "_CPIS_841_FULL_20261121.csv", id1 + "_CPIS_841_FULL_20261121.ctl"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
	if b := hubtest.ReadFile(t, filepath.Join(archive, want[0])); !bytes.Equal(b, hubtest.ReadFile(t, filepath.Join(h.caseDir, "CPIS_841_FULL_20261121.csv"))) {
		t.Errorf("the archived data file differs from what was sent")
	}
	if got := listDir(t, filepath.Join(h.dir, "mailboxes", mb841, "inbox")); len(got) != 0 {
		t.Errorf("inbox after the run: %v, want empty", got)
	}
	outbox := filepath.Join(h.dir, "mailboxes", mb841, "outbox")
	first := listDir(t, outbox)
	if len(first) != 2 {
		t.Fatalf("outbox after the first run: %v, want one response and its control file", first)
	}
	rep, err = ingest.Run(ctx, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 0 {
		t.Errorf("second run: %+v, want nothing", rep.Results)
	}
	if diff := cmp.Diff(first, listDir(t, outbox)); diff != "" {
		t.Errorf("the second run changed the outbox (-first +second):\n%s", diff)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// shaPrefix is the part of a derived message ID that comes from the
// content: the first 6 hex digits of its SHA-256, upper case.
func shaPrefix(t *testing.T, path string) string {
	t.Helper()
	id := mesh.DerivedMessageID(sentAt, sha256.Sum256(hubtest.ReadFile(t, path)))
	return id[len(id)-6:]
}
