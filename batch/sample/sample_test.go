package sample_test

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"cpis/batch/sample"
	"cpis/store/caldate"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

const (
	testdata = "../../testdata"
)

func readCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatalf("read csv: %v", err)
	}
	return recs
}

// drama lists the Ofcom drama ranges each region may use: a prefix and then
// three digits.
var drama = map[string][]string{
	"London":                   {"020 7946 0"},
	"North East":               {"0191 498 0"},
	"Yorkshire and The Humber": {"0113 496 0", "0114 496 0"},
	"North West":               {"0161 496 0", "0151 496 0"},
	"West Midlands":            {"0121 496 0"},
	"East Midlands":            {"0115 496 0"},
	"South West":               {"0117 496 0"},
	"South East":               {"0118 496 0"},
	"East of England":          {"01632 960"},
}

func inRange(phone, region string) bool {
	for _, prefix := range drama[region] {
		rest, ok := strings.CutPrefix(phone, prefix)
		if ok && len(rest) == 3 && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

func TestAuthorities(t *testing.T) {
	recs := readCSV(t, sample.Authorities())
	want := []string{"la_code", "gss_code", "name", "region", "mailbox_id", "emergency_phone", "office_phone"}
	if !reflect.DeepEqual(recs[0], want) {
		t.Fatalf("header = %q, want %q", recs[0], want)
	}
	rows := recs[1:]
	if len(rows) != 153 {
		t.Errorf("%d authorities, want 153", len(rows))
	}
	codes, phones := map[string]bool{}, map[string]string{}
	offices := 0
	for _, r := range rows {
		code, region, mailbox, emergency, office := r[0], r[3], r[4], r[5], r[6]
		if codes[code] {
			t.Errorf("LA %s twice", code)
		}
		codes[code] = true
		if mailbox != "" {
			t.Errorf("LA %s: mailbox_id %q, want empty (derived)", code, mailbox)
		}
		if emergency == "" {
			t.Errorf("LA %s: no emergency phone", code)
		}
		if office != "" {
			offices++
		}
		for _, phone := range []string{emergency, office} {
			if phone == "" {
				continue
			}
			if !inRange(phone, region) {
				t.Errorf("LA %s (%s): phone %q not in a drama range for the region", code, region, phone)
			}
			if other, dup := phones[phone]; dup {
				t.Errorf("LA %s: phone %q also used by LA %s", code, phone, other)
			}
			phones[phone] = code
		}
		if code == "841" && (emergency != "0191 498 0123" || office != "") {
			t.Errorf("Darlington: phones %q, %q; want 0191 498 0123 and none", emergency, office)
		}
	}
	if offices < 90 || offices > 115 {
		t.Errorf("%d of %d authorities have an office phone, want about two thirds", offices, len(rows))
	}

	// A few public facts of the DfE list the file was made from.
	t.Run("reference rows", func(t *testing.T) {
		want := map[string][]string{
			"201": {"201", "E09000001", "City of London", "London"},
			"841": {"841", "E06000005", "Darlington", "North East"},
			"942": {"942", "E06000063", "Cumberland", "North West"},
			"943": {"943", "E06000064", "Westmorland and Furness", "North West"},
		}
		for _, r := range recs[1:] {
			if w, ok := want[r[0]]; ok && !reflect.DeepEqual(r[:4], w) {
				t.Errorf("LA %s: %q, want %q", r[0], r[:4], w)
			}
		}
	})
	t.Run("testdata copy", func(t *testing.T) {
		sameFile(t, filepath.Join(testdata, "authorities.csv"), sample.Authorities())
	})
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the sample (go generate ./batch/sample)", path)
	}
}

type ref struct {
	family, given string
	dob           caldate.Date
	supersededBy  string
}

// demographics parses the sample extract, checking each line.
func demographics(t *testing.T) map[string]ref {
	t.Helper()
	recs := readCSV(t, sample.Demographics())
	want := []string{"nhs_number", "family_name", "given_name", "date_of_birth", "superseded_by", "sensitive", "date_of_death"}
	if !reflect.DeepEqual(recs[0], want) {
		t.Fatalf("header = %q, want %q", recs[0], want)
	}
	people := map[string]ref{}
	for i, r := range recs[1:] {
		line := i + 2
		nhs, p := nhsnumber.Normalize(r[0])
		if p != nhsnumber.OK || nhs != r[0] || !strings.HasPrefix(nhs, "999") {
			t.Errorf("line %d: NHS number %q: want a normalised valid 999 number (%s)", line, r[0], p)
		}
		if _, dup := people[nhs]; dup {
			t.Errorf("line %d: %s twice", line, nhs)
		}
		var dob caldate.Date
		if r[3] != "" {
			var err error
			if dob, err = caldate.ParseISO(r[3]); err != nil {
				t.Errorf("line %d: date_of_birth: %v", line, err)
			}
			if y, _, _ := dob.YMD(); (y < 1985 || y > 2000) && (y < 2008 || y > 2025) {
				t.Errorf("line %d: born %s: want a mother (1985-2000) or a child (2008-2025)", line, r[3])
			}
		}
		if r[6] != "" {
			if _, err := caldate.ParseISO(r[6]); err != nil {
				t.Errorf("line %d: date_of_death: %v", line, err)
			}
		}
		if r[5] != "Y" && r[5] != "N" {
			t.Errorf("line %d: sensitive %q", line, r[5])
		}
		people[nhs] = ref{family: r[1], given: r[2], dob: dob, supersededBy: r[4]}
	}
	return people
}

func TestDemographics(t *testing.T) {
	people := demographics(t)
	if n := len(people); n < 100 || n > 150 {
		t.Errorf("%d people, want about 120", n)
	}
	for _, n := range []string{sample.TestPatient, sample.TestPatient2} {
		if _, ok := people[n]; !ok {
			t.Errorf("published test patient %s missing", n)
		}
	}
	if _, ok := people[sample.UnknownNHS]; ok || !nhsnumber.Valid(sample.UnknownNHS) {
		t.Errorf("UnknownNHS %s must be valid and absent", sample.UnknownNHS)
	}
	longest := 0
	for n, p := range people {
		steps := 0
		for cur := p; cur.supersededBy != ""; steps++ {
			next, ok := people[cur.supersededBy]
			if !ok {
				t.Errorf("%s: superseded_by %s is not in the file", n, cur.supersededBy)
				break
			}
			if steps > len(people) {
				t.Fatalf("%s: supersession loop", n)
			}
			cur = next
		}
		longest = max(longest, steps)
	}
	if longest != 2 {
		t.Errorf("longest supersession chain has %d steps, want 2 (A to B to C)", longest)
	}
	text := string(sample.Demographics())
	if n := strings.Count(text, ",Y,"); n != 1 {
		t.Errorf("%d sensitive records, want 1", n)
	}
	if !regexp.MustCompile(`(?m),[YN],[0-9-]{10}$`).MatchString(text) {
		t.Error("no record with a date of death")
	}
	if !bytes.Equal(sample.RenderDemographics(), sample.Demographics()) {
		t.Error("demographics.csv differs from the people table (go generate ./batch/sample)")
	}
	sameFile(t, filepath.Join(testdata, "demographics.csv"), sample.Demographics())
}

var namePattern = regexp.MustCompile(`^CPIS_([0-9]{3})_(FULL|DELTA)_([0-9]{8})(_[A-Za-z0-9-]{1,50})?\.(csv|xml)$`)

func TestReturnsNames(t *testing.T) {
	today := caldate.Of(2026, 11, 22)
	files := sample.Returns(today)
	if !reflect.DeepEqual(files, sample.Returns(today)) {
		t.Fatal("Returns is not deterministic")
	}
	var names []string
	for _, f := range files {
		names = append(names, f.LA+" "+f.Name)
	}
	want := []string{
		"841 CPIS_841_FULL_20261120.csv",
		"841 CPIS_841_DELTA_20261121.csv",
		"202 CPIS_202_FULL_20261121_weekly.csv",
		"330 CPIS_330_FULL_20261120.csv",
		"330 CPIS_330_FULL_20261121_rerun-2.csv",
		"873 CPIS_873_FULL_20261121.xml",
		"841 CPIS_841_DELTA_20261121.csv",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	last := files[len(files)-1]
	if !bytes.Equal(last.Data, files[1].Data) {
		t.Error("the repeat differs from the DELTA it repeats")
	}
	last.Data[0] = 'x'
	if bytes.Equal(last.Data, files[1].Data) {
		t.Error("the repeat shares its bytes with the DELTA")
	}
}

// TestReturns checks the files for every week from 2026 to 2030: names,
// formats, and that every plan meant to be accepted is visible.
func TestReturns(t *testing.T) {
	people := demographics(t)
	for today := caldate.Of(2026, 1, 1); !today.After(caldate.Of(2030, 12, 31)); today = today.AddDays(7) {
		checkReturns(t, today, people)
		if t.Failed() {
			t.Fatalf("today = %s", today)
		}
	}
}

func checkReturns(t *testing.T, today caldate.Date, people map[string]ref) {
	files := sample.Returns(today)
	seen := map[string]int{}
	lastDate := map[string]string{}
	badFormat, unknown := 0, 0
	rowsOf := map[string]int{}
	for i, f := range files {
		m := namePattern.FindStringSubmatch(f.Name)
		if m == nil {
			t.Errorf("%s: name does not match %s", f.Name, namePattern)
			continue
		}
		la, kind, date, ext := m[1], m[2], m[3], m[5]
		if la != f.LA {
			t.Errorf("%s: for LA %s", f.Name, f.LA)
		}
		extract, err := caldate.ParseCompact(date)
		if err != nil || extract.Before(today.AddDays(-2)) || !extract.Before(today) {
			t.Errorf("%s: extract date %s, want today-2 or today-1", f.Name, date)
		}
		if j, repeat := seen[f.Name]; repeat {
			if i != len(files)-1 || !bytes.Equal(files[j].Data, f.Data) {
				t.Errorf("%s: a name used twice must be the final repeat", f.Name)
			}
			continue
		}
		seen[f.Name] = i
		if prev, ok := lastDate[la]; ok && prev >= date {
			t.Errorf("%s: LA %s returns not in extract-date order", f.Name, la)
		}
		lastDate[la] = date

		var rows []map[string]string
		if ext == "xml" {
			rows = xmlRows(t, f, la, kind, extract)
		} else {
			rows = csvRows(t, f)
		}
		rowsOf[la+" "+kind] += len(rows)
		for _, r := range rows {
			nhs, p := nhsnumber.Normalize(r["nhs_number"])
			if p != nhsnumber.OK {
				badFormat++
				continue
			}
			person, known := people[nhs]
			if !known {
				if nhs != sample.UnknownNHS {
					t.Errorf("%s: %s is not in the demographics", f.Name, nhs)
				}
				unknown++
				continue
			}
			if la == "841" && kind == "FULL" && (r["family_name"] != person.family ||
				r["given_name"] != person.given || r["date_of_birth"] != person.dob.String()) {
				t.Errorf("%s: %s: names or date of birth differ from the demographics", f.Name, nhs)
			}
			if strings.EqualFold(r["action"], "DELETE") {
				continue
			}
			checkVisible(t, f.Name, r, person, extract, today)
		}
	}
	if badFormat != 2 || unknown != 1 {
		t.Errorf("%d rows with a bad NHS number (want 2), %d unknown (want 1)", badFormat, unknown)
	}
	want := map[string]int{"841 FULL": 8, "841 DELTA": 4, "202 FULL": 28, "330 FULL": 35, "873 FULL": 6}
	if !reflect.DeepEqual(rowsOf, want) {
		t.Errorf("rows per kind of file: %v, want %v", rowsOf, want)
	}
}

// checkVisible checks a row that is well formed (the deliberately bad rows
// are skipped): its dates are in order and the plan is visible on the
// extract date and today.
func checkVisible(t *testing.T, file string, r map[string]string, person ref, extract, today caldate.Date) {
	t.Helper()
	typ, ok := plans.ParseType(r["plan_type"])
	start, errStart := caldate.Parse(r["start_date"])
	var end, due caldate.Date
	var errEnd, errDue error
	if r["end_date"] != "" {
		end, errEnd = caldate.Parse(r["end_date"])
	}
	if r["due_date"] != "" {
		due, errDue = caldate.Parse(r["due_date"])
	}
	if !ok || errStart != nil || errEnd != nil || errDue != nil || (!end.IsZero() && end.Before(start)) {
		return
	}
	if start.After(extract) || end.After(extract) {
		t.Errorf("%s: %s: dates after the extract date", file, r["nhs_number"])
	}
	if typ != plans.UCPP && !person.dob.IsZero() && start.Before(person.dob) {
		t.Errorf("%s: %s: plan starts %s, before birth on %s", file, r["nhs_number"], start, person.dob)
	}
	if typ != plans.UCPP {
		due = caldate.Date{}
	}
	p := plans.Plan{Key: plans.Key{Type: typ}, Start: start, End: end, Due: due}
	for _, day := range []caldate.Date{extract, today} {
		if !p.VisibleOn(day, person.dob) {
			t.Errorf("%s: %s %s: not visible on %s", file, r["nhs_number"], typ, day)
		}
	}
}

func csvRows(t *testing.T, f sample.File) []map[string]string {
	t.Helper()
	recs := readCSV(t, f.Data)
	var rows []map[string]string
	for _, rec := range recs[1:] {
		r := map[string]string{}
		for i, h := range recs[0] {
			r[strings.ToLower(h)] = rec[i]
		}
		rows = append(rows, r)
	}
	return rows
}

func xmlRows(t *testing.T, f sample.File, la, kind string, extract caldate.Date) []map[string]string {
	t.Helper()
	var doc struct {
		XMLName xml.Name
		LA      string `xml:"la,attr"`
		Kind    string `xml:"kind,attr"`
		Extract string `xml:"extractDate,attr"`
		Plans   []struct {
			Fields []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"Plan"`
	}
	if err := xml.Unmarshal(f.Data, &doc); err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	if doc.XMLName != (xml.Name{Space: "urn:cpis:return:1", Local: "CPISReturn"}) ||
		doc.LA != la || doc.Kind != kind || doc.Extract != extract.String() {
		t.Errorf("%s: root %v la=%q kind=%q extractDate=%q does not match the name",
			f.Name, doc.XMLName, doc.LA, doc.Kind, doc.Extract)
	}
	columns := map[string]string{
		"NHSNumber": "nhs_number", "PlanType": "plan_type", "StartDate": "start_date",
		"EndDate": "end_date", "DueDate": "due_date", "LocalId": "local_id",
		"FamilyName": "family_name", "GivenName": "given_name", "DateOfBirth": "date_of_birth",
		"Action": "action",
	}
	var rows []map[string]string
	for _, p := range doc.Plans {
		r := map[string]string{}
		for _, e := range p.Fields {
			col, ok := columns[e.XMLName.Local]
			if !ok {
				t.Errorf("%s: unknown element %s", f.Name, e.XMLName.Local)
			}
			r[col] = e.Value
		}
		rows = append(rows, r)
	}
	return rows
}
