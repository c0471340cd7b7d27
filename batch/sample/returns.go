package sample

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"cpis/store/caldate"
)

// File is one return as an LA puts it into its mailbox's inbox.
type File struct {
	LA   string // DfE code of the LA whose inbox it goes into (and its name says)
	Name string // CPIS_<LA>_<KIND>_<YYYYMMDD>[_<free>].<ext>
	Data []byte
}

// Returns gives the demo's returns for the London date today, in delivery
// order. Extract dates are today-2 and today-1; plan dates are days or
// months before today; the same today always gives the same files. All but
// the last may be delivered at once (each LA's returns have distinct
// extract dates, FULL before DELTA); the last repeats an earlier name and
// content, so it must be delivered after an ingest has taken the first copy
// (two files cannot share a name in one inbox). With Demographics imported
// and the hub empty, the expected outcomes (batch/returns/returns.md) are:
//
//  1. CPIS_841_FULL_<today-2>.csv, Darlington: a clean FULL return, LF line
//     ends, ISO dates, names and dates of birth, 8 plans (CPP, LAC, UCPP),
//     TestPatient's CPP written with spaces (999 027 6579), a CPP that ended
//     a month ago, a UCPP whose due date has passed (visible until due + 28)
//     and an open CPP of the child who turned 18 most recently before the
//     extract date (effective end: the 18th birthday; the first candidate
//     is a 29 February birth, 18 on 1 March 2026). CPF02, read=8 applied=8
//     rejected=0 warnings=0 withdrawn=0.
//  2. CPIS_841_DELTA_<today-1>.csv, Darlington: an UPSERT ending a LAC, an
//     UPSERT with an empty action adding a CPP, a DELETE of a held CPP, and
//     a DELETE of TestPatient's LAC, which Camden holds but Darlington does
//     not (W003: an LA cannot delete another LA's plan). CPF02, read=4
//     applied=4 rejected=0 warnings=1 withdrawn=1.
//  3. CPIS_202_FULL_<today-1>_weekly.csv, Camden: a BOM, CRLF line ends,
//     mixed-case headers in another order, D/M/YYYY dates; 28 rows of which
//     13 clean (TestPatient's LAC, a UCPP, O’Neill sent as o'neill),
//     3 accepted with a warning (CPR06: P005 adopted name, P006 date of
//     death, W002 due date on a CPP) and 12 rejected: CPR04 R003 (mistyped
//     check digit) and R002 (letter O for a zero), CPR07 R004 (plan type
//     CIN), R005 (31/02/2026), R006 (end before start), R008 (UCPP without
//     due date), R009 on both rows of a duplicate CPP, CPR05 (a merged
//     number; the detail names the end of its chain), CPR01 (UnknownNHS),
//     CPR02 (sensitive) and CPR03 (date of birth sent month first). CPF03,
//     read=28 applied=16 rejected=12 warnings=3 withdrawn=0.
//  4. CPIS_330_FULL_<today-2>.csv, Birmingham: 30 valid plans, minimal
//     columns. CPF02, read=30 applied=30 withdrawn=0.
//  5. CPIS_330_FULL_<today-1>_rerun-2.csv, Birmingham: a truncated upload,
//     the first 5 rows of the previous return. It would withdraw W=25 of
//     V=30 visible plans (W >= 20 and W > 10% of V): held, CPF04 F009,
//     read=5 applied=5 rejected=0 warnings=0 withdrawn=25; nothing changes
//     until operations release or discard it.
//  6. CPIS_873_FULL_<today-1>.xml, Cambridgeshire: the XML format (namespace
//     urn:cpis:return:1, root la="873" kind="FULL" extractDate=<today-1>),
//     6 plans including TestPatient2's LAC, a person with no date of birth
//     in demographics, and names that match only after normalisation
//     (SMITH JONES for Smith-Jones, a decomposed Zoë). CPF02, read=6
//     applied=6 rejected=0 warnings=0 withdrawn=0.
//  7. CPIS_841_DELTA_<today-1>.csv again, byte for byte: a repeat, CPF04
//     F007, changing nothing.
//
// The files are checked (sample_test.go) for every week of 2026-2030: after
// that the sample children start to turn 18 and the demo needs younger ones.
// The returned files are fresh copies the caller may change.
func Returns(today caldate.Date) []File {
	d := demo{today: today}
	delta := d.darlingtonDelta()
	bham := d.birminghamPlans()
	files := []File{
		d.darlingtonFull(),
		delta,
		d.camdenFull(),
		d.birmingham(d.today.AddDays(-2), "", bham),
		d.birmingham(d.today.AddDays(-1), "_rerun-2", bham[:5]),
		d.cambridgeshireXML(),
		{LA: delta.LA, Name: delta.Name, Data: slices.Clone(delta.Data)},
	}
	return files
}

// row is one plan row, keyed by lower-case CSV column name.
type row map[string]string

// demo builds the returns relative to today.
type demo struct{ today caldate.Date }

// ago returns the date n days before today (after it when n < 0).
func (d demo) ago(n int) caldate.Date { return d.today.AddDays(-n) }

func iso(t caldate.Date) string { return t.String() }

// dmy formats t as D/M/YYYY, without leading zeros.
func dmy(t caldate.Date) string {
	if t.IsZero() {
		return ""
	}
	y, m, day := t.YMD()
	return fmt.Sprintf("%d/%d/%d", day, int(m), y)
}

// plan is a row for person p; format writes the dates.
func plan(p person, typ string, start, end, due caldate.Date, localID string, format func(caldate.Date) string) row {
	return row{
		"nhs_number": p.nhs,
		"plan_type":  typ,
		"start_date": format(start),
		"end_date":   format(end),
		"due_date":   format(due),
		"local_id":   localID,
	}
}

// named adds p's names and date of birth as the reference has them.
func (r row) named(p person, format func(caldate.Date) string) row {
	r["family_name"] = p.family
	r["given_name"] = p.given
	r["date_of_birth"] = ""
	if p.dob != "" {
		dob, err := caldate.ParseISO(p.dob)
		if err != nil {
			panic("sample: " + err.Error())
		}
		r["date_of_birth"] = format(dob)
	}
	return r
}

// with sets column to value (a deliberate difference from the reference).
func (r row) with(column, value string) row {
	r[column] = value
	return r
}

// turning18 returns the 18th-birthday candidate who turned 18 most recently
// on or before day (the first one before any turned 18). The candidates'
// birthdays are less than a year apart, so the one chosen is still visible
// as a care leaver on day.
func turning18(day caldate.Date) person {
	var best person
	for y := 2026; y <= 2030; y++ {
		p := who(fmt.Sprintf("d-18-%d", y))
		dob, _ := caldate.ParseISO(p.dob)
		if best.nhs == "" || !dob.AddYears(18).After(day) {
			best = p
		}
	}
	return best
}

func (d demo) darlingtonFull() File {
	extract := d.ago(2)
	named := func(tag, typ string, start, end, due caldate.Date, id string) row {
		p := who(tag)
		return plan(p, typ, start, end, due, id, iso).named(p, iso)
	}
	adult := turning18(extract)
	rows := []row{
		named("tp", "CPP", d.ago(210), caldate.Date{}, caldate.Date{}, "DAR-CP-1001").with("nhs_number", "999 027 6579"),
		named("d-cpp-2", "CPP", d.ago(90), caldate.Date{}, caldate.Date{}, "DAR-CP-1002"),
		named("d-cpp-3", "CPP", d.ago(400), d.ago(30), caldate.Date{}, "DAR-CP-0957"),
		named("d-lac-1", "LAC", d.ago(700), caldate.Date{}, caldate.Date{}, "DAR-LA-0410"),
		named("d-lac-2", "LAC", d.ago(1200), caldate.Date{}, caldate.Date{}, "DAR-LA-0388"),
		plan(adult, "CPP", d.ago(500), caldate.Date{}, caldate.Date{}, "DAR-CP-0902", iso).named(adult, iso),
		named("d-ucpp-1", "UCPP", d.ago(120), caldate.Date{}, d.ago(-45), "DAR-UB-0031"),
		named("d-ucpp-2", "UCPP", d.ago(220), caldate.Date{}, d.ago(10), "DAR-UB-0027"),
	}
	cols := []string{"nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id", "family_name", "given_name", "date_of_birth"}
	return csvFile("841", name("841", "FULL", extract, "", "csv"), cols, rows, false, false)
}

func (d demo) darlingtonDelta() File {
	extract := d.ago(1)
	none := caldate.Date{}
	rows := []row{
		plan(who("d-lac-1"), "LAC", d.ago(700), d.ago(3), none, "DAR-LA-0410", iso).with("action", "UPSERT"),
		plan(who("d-new"), "CPP", d.ago(5), none, none, "DAR-CP-1010", iso).with("action", ""),
		{"action": "DELETE", "nhs_number": who("d-cpp-2").nhs, "plan_type": "CPP", "local_id": "DAR-CP-1002"},
		{"action": "DELETE", "nhs_number": who("tp").nhs, "plan_type": "LAC"},
	}
	cols := []string{"action", "nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id"}
	return csvFile("841", name("841", "DELTA", extract, "", "csv"), cols, rows, false, false)
}

func (d demo) camdenFull() File {
	extract := d.ago(1)
	none := caldate.Date{}
	named := func(tag, typ string, start, end, due caldate.Date, id string) row {
		p := who(tag)
		return plan(p, typ, start, end, due, id, dmy).named(p, dmy)
	}
	mistyped := who("c-r003").nhs
	mistyped = mistyped[:9] + string('0'+(mistyped[9]-'0'+1)%10)
	lettered := who("c-r002").nhs
	lettered = lettered[:3] + "O" + lettered[4:] // digit 4 is a zero
	unknown := person{nhs: UnknownNHS, family: "Marsh", given: "Tilly", dob: "2019-08-30"}
	rows := []row{
		named("c-01", "CPP", d.ago(40), none, none, "CAM-0101"),
		named("tp", "LAC", d.ago(150), none, none, "CAM-0102"),
		named("c-r003", "CPP", d.ago(60), none, none, "CAM-0103").with("nhs_number", mistyped),
		named("c-02", "LAC", d.ago(610), none, none, "CAM-0104"),
		named("c-r002", "CPP", d.ago(33), none, none, "CAM-0105").with("nhs_number", lettered),
		named("c-03", "CPP", d.ago(300), d.ago(45), none, "CAM-0106"),
		named("c-r004", "CIN", d.ago(90), none, none, "CAM-0107"),
		named("c-04", "LAC", d.ago(820), none, none, "CAM-0108"),
		named("c-r005", "CPP", none, none, none, "CAM-0109").with("start_date", "31/02/2026"),
		named("c-05", "CPP", d.ago(25), none, none, "CAM-0110"),
		named("c-r006", "CPP", d.ago(100), d.ago(200), none, "CAM-0111"),
		named("c-m1", "UCPP", d.ago(60), none, d.ago(-100), "CAM-0112"),
		named("c-r008", "UCPP", d.ago(30), none, none, "CAM-0113"),
		named("c-06", "LAC", d.ago(400), d.ago(120), none, "CAM-0114"),
		named("c-r009", "CPP", d.ago(300), none, none, "CAM-0115"),
		named("c-07", "CPP", d.ago(140), none, none, "CAM-0116"),
		named("c-r009", "CPP", d.ago(20), none, none, "CAM-0117"),
		named("chain-a", "CPP", d.ago(80), none, none, "CAM-0118"),
		named("c-08", "LAC", d.ago(1000), none, none, "CAM-0119"),
		plan(unknown, "CPP", d.ago(45), none, none, "CAM-0120", dmy).named(unknown, dmy),
		named("c-sens", "LAC", d.ago(250), none, none, "CAM-0121"),
		named("c-09", "CPP", d.ago(70), none, none, "CAM-0122"),
		named("c-dob", "CPP", d.ago(110), none, none, "CAM-0123").with("date_of_birth", "4/7/2015"),
		named("c-fold", "CPP", d.ago(35), none, none, "CAM-0124").with("family_name", "o'neill").with("given_name", "AOIFE"),
		named("c-p005", "LAC", d.ago(180), none, none, "CAM-0125").with("family_name", "Whitfield"),
		named("c-10", "LAC", d.ago(500), none, none, "CAM-0126"),
		named("c-dead", "CPP", d.ago(300), none, none, "CAM-0127"),
		named("c-w002", "CPP", d.ago(75), none, d.ago(-30), "CAM-0128"),
	}
	header := []string{"Local_ID", "NHS_Number", "Family_Name", "Given_Name", "Date_Of_Birth", "Plan_Type", "Start_Date", "End_Date", "Due_Date"}
	return csvFile("202", name("202", "FULL", extract, "_weekly", "csv"), header, rows, true, true)
}

// birminghamPlans returns Birmingham's 30 plans: CPP and LAC for the
// children, UCPP for the mothers, some ended within the year.
func (d demo) birminghamPlans() []row {
	var rows []row
	for i := 1; i <= 30; i++ {
		p := who(fmt.Sprintf("b-%02d", i))
		start := d.ago(20 + (i*37)%600)
		var end, due caldate.Date
		typ := "CPP"
		switch {
		case strings.HasPrefix(p.dob, "19"): // a mother
			typ, start, due = "UCPP", d.ago(30+i), d.ago(i-150)
		case i%3 == 0:
			typ = "LAC"
		}
		if typ != "UCPP" && i%5 == 0 {
			end = d.ago(5 + i)
		}
		rows = append(rows, plan(p, typ, start, end, due, fmt.Sprintf("BHM%06d", 104000+7*i), iso))
	}
	return rows
}

func (d demo) birmingham(extract caldate.Date, free string, rows []row) File {
	cols := []string{"nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id"}
	return csvFile("330", name("330", "FULL", extract, free, "csv"), cols, rows, false, false)
}

func (d demo) cambridgeshireXML() File {
	extract := d.ago(1)
	none := caldate.Date{}
	named := func(tag, typ string, start, end, due caldate.Date, id string) row {
		p := who(tag)
		return plan(p, typ, start, end, due, id, iso).named(p, iso)
	}
	rows := []row{
		named("tp2", "LAC", d.ago(330), none, none, "CCC/L/2207"),
		named("x-fold", "CPP", d.ago(95), none, none, "CCC/C/5120").
			with("family_name", "SMITH JONES").with("given_name", "Zoe\u0308"),
		named("x-nodob", "CPP", d.ago(60), none, none, "CCC/C/5133"),
		named("x-m1", "UCPP", d.ago(100), none, d.ago(-70), "CCC/U/0419"),
		named("x-05", "LAC", d.ago(400), d.ago(100), none, "CCC/L/2150"),
		named("x-06", "CPP", d.ago(15), none, none, "CCC/C/5141"),
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	fmt.Fprintf(&b, "<CPISReturn xmlns=\"urn:cpis:return:1\" la=\"873\" kind=\"FULL\" extractDate=\"%s\">\n", iso(extract))
	elements := []struct{ name, column string }{
		{"NHSNumber", "nhs_number"}, {"PlanType", "plan_type"},
		{"StartDate", "start_date"}, {"EndDate", "end_date"}, {"DueDate", "due_date"},
		{"LocalId", "local_id"}, {"FamilyName", "family_name"}, {"GivenName", "given_name"},
		{"DateOfBirth", "date_of_birth"},
	}
	for _, r := range rows {
		b.WriteString("  <Plan>\n")
		for _, e := range elements {
			if r[e.column] == "" {
				fmt.Fprintf(&b, "    <%s/>\n", e.name)
				continue
			}
			fmt.Fprintf(&b, "    <%s>", e.name)
			if err := xml.EscapeText(&b, []byte(r[e.column])); err != nil {
				panic("sample: " + err.Error()) // a bytes.Buffer does not fail
			}
			fmt.Fprintf(&b, "</%s>\n", e.name)
		}
		b.WriteString("  </Plan>\n")
	}
	b.WriteString("</CPISReturn>\n")
	return File{LA: "873", Name: name("873", "FULL", extract, "", "xml"), Data: b.Bytes()}
}

// name returns CPIS_<la>_<kind>_<YYYYMMDD><free>.<ext>; free is "" or
// starts with "_".
func name(la, kind string, extract caldate.Date, free, ext string) string {
	return "CPIS_" + la + "_" + kind + "_" + extract.Compact() + free + "." + ext
}

// csvFile writes rows under header (column names in the case to write;
// rows are keyed by their lower-case form), with a UTF-8 BOM and CRLF line
// ends when asked.
func csvFile(la, fileName string, header []string, rows []row, bom, crlf bool) File {
	var b bytes.Buffer
	if bom {
		b.WriteString("\uFEFF")
	}
	w := csv.NewWriter(&b)
	w.UseCRLF = crlf
	must(w.Write(header))
	for _, r := range rows {
		rec := make([]string, len(header))
		for i, h := range header {
			rec[i] = r[strings.ToLower(h)]
		}
		must(w.Write(rec))
	}
	w.Flush()
	must(w.Error())
	return File{LA: la, Name: fileName, Data: b.Bytes()}
}

func must(err error) {
	if err != nil {
		panic("sample: " + err.Error()) // writing to a bytes.Buffer does not fail
	}
}
