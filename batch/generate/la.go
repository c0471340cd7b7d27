package generate

import (
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"cpis/batch/returns"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// Columns of a return row, in the order of batch/returns/returns.md.
const (
	colNHS = iota
	colType
	colStart
	colEnd
	colDue
	colLocal
	colFamily
	colGiven
	colDOB
	colAction
	numCols
)

var (
	csvNames = [numCols]string{"nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id", "family_name", "given_name", "date_of_birth", "action"}
	xmlNames = [numCols]string{"NHSNumber", "PlanType", "StartDate", "EndDate", "DueDate", "LocalId", "FamilyName", "GivenName", "DateOfBirth", "Action"}
)

// row is one return row as written.
type row [numCols]string

// plan is a plan in a return, as generated.
type plan struct {
	p       person
	typ     plans.Type
	start   caldate.Date
	end     caldate.Date
	due     caldate.Date
	localID string
	clean   bool // written without an error, accepted and stored by ingest
}

// laGen generates one LA's returns.
type laGen struct {
	g       *gen
	code    string
	rng     *rand.Rand
	xml     bool
	dmy     bool // dates as D/M/YYYY
	spaced  bool // NHS numbers as 999 123 4567
	upper   bool // family names in capitals
	idStyle int
	nextID  int
	reuse   float64

	plans     []plan
	lastClean int             // index in plans of the last clean row, -1 when none
	used      map[string]bool // NHS numbers with a plan of this LA
}

// writeLA writes LA a's FULL return of n rows and its DELTA.
func (g *gen) writeLA(i int, a authority, n int) (LAReturns, error) {
	h := fnv.New64a()
	io.WriteString(h, a.code)
	rng := rand.New(rand.NewPCG(g.opts.Seed, h.Sum64()))
	la := &laGen{
		g:         g,
		code:      a.code,
		rng:       rng,
		xml:       i%5 == 1,
		dmy:       rng.IntN(4) == 0,
		spaced:    rng.IntN(5) == 0,
		upper:     rng.IntN(6) == 0,
		idStyle:   rng.IntN(4),
		nextID:    1000 + rng.IntN(90_000),
		reuse:     g.reuseShare(),
		lastClean: -1,
		used:      make(map[string]bool, n),
	}
	if la.xml {
		la.dmy = false
	}
	dir := filepath.Join(g.opts.Out, ReturnsDir, a.code)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return LAReturns{}, fmt.Errorf("generate: %w", err)
	}
	lr := LAReturns{LA: a.code, Format: returns.CSV, FullRows: n}
	ext := "csv"
	if la.xml {
		lr.Format, ext = returns.XML, "xml"
	}
	fullName := fmt.Sprintf("CPIS_%s_FULL_%s.%s", a.code, g.opts.Extract.Compact(), ext)
	deltaName := fmt.Sprintf("CPIS_%s_DELTA_%s.csv", a.code, g.delta.Compact())
	lr.Full = path.Join(ReturnsDir, a.code, fullName)
	lr.Delta = path.Join(ReturnsDir, a.code, deltaName)

	if err := la.writeFull(filepath.Join(dir, fullName), n); err != nil {
		return lr, err
	}
	for _, p := range la.plans {
		if !p.clean {
			continue
		}
		g.planned = append(g.planned, p.p.mid)
		if p.typ != plans.UCPP {
			g.addToRing(p.p)
		}
	}
	m := 0
	if n > 0 {
		m = max(1, (n+50)/100)
	}
	lr.DeltaRows = m
	if err := la.writeDelta(filepath.Join(dir, deltaName), m); err != nil {
		return lr, err
	}
	return lr, g.err
}

// writer writes the rows of one return.
type writer interface {
	write(r *row) error
	close() error
	abort()
}

func (la *laGen) writeFull(path string, n int) error {
	var w writer
	var err error
	if la.xml {
		w, err = newXMLWriter(path, la.code, returns.Full, la.g.opts.Extract)
	} else {
		w, err = la.newCSVWriter(path, la.g.opts.ErrorRate > 0)
	}
	if err != nil {
		return err
	}
	defer w.abort()
	var r row
	for range n {
		code := codes.Detail("")
		if la.g.opts.ErrorRate > 0 && la.rng.Float64() < la.g.opts.ErrorRate {
			code = la.g.nextCode(false, la.lastClean < 0)
		}
		p := la.newPlan(code, la.g.opts.Extract, false)
		la.fill(&r, p, code, false)
		if err := w.write(&r); err != nil {
			return err
		}
	}
	return w.close()
}

// writeDelta writes m rows of changes, dated a day after the FULL.
func (la *laGen) writeDelta(path string, m int) error {
	w, err := la.newCSVWriter(path, true)
	if err != nil {
		return err
	}
	defer w.abort()
	touched := make(map[int]bool)
	lastClean := -1 // in deltaPlans
	var deltaPlans []plan
	var r row
	for range m {
		code := codes.Detail("")
		if la.g.opts.ErrorRate > 0 && la.rng.Float64() < la.g.opts.ErrorRate {
			code = la.g.nextCode(true, lastClean < 0)
		}
		var p plan
		switch {
		case code == codes.R009:
			base := deltaPlans[lastClean]
			p = base
			p.localID = la.newLocalID()
			p.clean = false
			lastClean = -1
			la.fill(&r, p, code, true)
		case code == codes.W003:
			// DELETE of a plan this LA does not hold: a person with none here.
			q := la.g.newPerson(la.rng, la.childDOB(la.g.delta, plans.CPP, 0), false)
			la.g.writePerson(q, "", "N", caldate.Date{})
			r = row{}
			r[colNHS], r[colType], r[colLocal], r[colAction] = la.nhsText(q.nhs), string(typeOf(la.rng)), la.newLocalID(), "DELETE"
		case code != "":
			p = la.newPlan(code, la.g.delta, true)
			la.fill(&r, p, code, true)
		default:
			u := la.rng.IntN(100)
			target := -1
			if u < 45 || u >= 85 {
				target = la.pickClean(touched, u < 45)
			}
			switch {
			case target >= 0 && u < 45: // end an open plan
				touched[target] = true
				p = la.plans[target]
				p.end = la.g.delta
				la.fill(&r, p, "", true)
				if la.rng.IntN(2) == 0 {
					r[colAction] = "UPSERT"
				}
				deltaPlans = append(deltaPlans, p)
				lastClean = len(deltaPlans) - 1
				if err := w.write(&r); err != nil {
					return err
				}
				continue
			case target >= 0: // delete a plan
				touched[target] = true
				p = la.plans[target]
				r = row{}
				r[colNHS], r[colType], r[colLocal], r[colAction] = la.nhsText(p.p.nhs), string(p.typ), p.localID, "DELETE"
				if la.rng.IntN(3) == 0 {
					r[colAction] = "delete"
				}
			default: // a new plan
				p = la.newPlan("", la.g.delta, true)
				la.fill(&r, p, "", true)
				deltaPlans = append(deltaPlans, p)
				lastClean = len(deltaPlans) - 1
			}
		}
		if code != "" && code != codes.W003 && code != codes.R009 {
			deltaPlans = append(deltaPlans, p)
		}
		if err := w.write(&r); err != nil {
			return err
		}
	}
	return w.close()
}

// pickClean returns a clean FULL plan not yet touched by the DELTA (open
// when open), or -1.
func (la *laGen) pickClean(touched map[int]bool, open bool) int {
	if len(la.plans) == 0 {
		return -1
	}
	for range 16 {
		i := la.rng.IntN(len(la.plans))
		if p := la.plans[i]; p.clean && !touched[i] && (!open || p.end.IsZero()) {
			return i
		}
	}
	return -1
}

// maxChildDays is the oldest a child may be on day e, in days, so that the
// child is still under 18 the day after (the DELTA's date).
func maxChildDays(e caldate.Date) int { return e.DaysSince(e.AddYears(-18)) - 3 }

// childAges are the shares of ages, in years, of children by plan type
// (roughly DfE's: looked-after children are older).
var childAges = map[plans.Type][]struct{ from, to, share int }{
	plans.LAC: {{0, 1, 5}, {1, 5, 13}, {5, 10, 18}, {10, 16, 39}, {16, 18, 25}},
	plans.CPP: {{0, 1, 10}, {1, 5, 28}, {5, 10, 30}, {10, 16, 28}, {16, 18, 4}},
}

// childDOB draws a child's date of birth, at least minDays old on e.
func (la *laGen) childDOB(e caldate.Date, typ plans.Type, minDays int) caldate.Date {
	bands := childAges[typ]
	if bands == nil {
		bands = childAges[plans.CPP]
	}
	u := la.rng.IntN(100)
	days := 0
	for _, b := range bands {
		if u < b.share {
			days = b.from*365 + la.rng.IntN((b.to-b.from)*365)
			break
		}
		u -= b.share
	}
	top := maxChildDays(e)
	if minDays > 0 && days < minDays {
		days = minDays + la.rng.IntN(max(1, top-minDays))
	}
	return e.AddDays(-min(days, top))
}

// newPlan makes a plan seen on extract date e, for a row that will carry
// code ("" for none), and writes its person to the demographics.
func (la *laGen) newPlan(code codes.Detail, e caldate.Date, delta bool) plan {
	g := la.g
	if code == codes.R009 {
		base := la.plans[la.lastClean]
		la.plans[la.lastClean].clean = false
		la.lastClean = -1
		p := base
		p.localID = la.newLocalID()
		p.clean = false
		la.plans = append(la.plans, p)
		return p
	}
	typ := typeOf(la.rng)
	switch code {
	case codes.R008:
		typ = plans.UCPP
	case codes.W001, codes.W002:
		if typ == plans.UCPP {
			typ = plans.CPP
		}
	}
	p := plan{typ: typ, localID: la.newLocalID(), clean: code == ""}

	// The person.
	minDays := 0
	if code == codes.W001 {
		minDays = 1100
	}
	reused := false
	if code == "" && typ != plans.UCPP && len(g.ring) > 0 && la.rng.Float64() < la.reuse {
		for range 4 {
			q := g.ring[la.rng.IntN(len(g.ring))]
			if !la.used[q.nhs] && e.DaysSince(q.dob) <= maxChildDays(e) {
				p.p, reused = q, true
				break
			}
		}
	}
	if !reused {
		var dob caldate.Date
		if typ == plans.UCPP {
			dob = e.AddDays(-(16*365 + la.rng.IntN(29*365)))
		} else {
			dob = la.childDOB(e, typ, minDays)
		}
		p.p = g.newPerson(la.rng, dob, typ == plans.UCPP)
		la.writePerson(p.p, code, e)
	}
	la.used[p.p.nhs] = true

	// The dates.
	age := e.DaysSince(p.p.dob)
	switch {
	case typ == plans.UCPP:
		p.start = e.AddDays(-la.rng.IntN(120))
		p.due = e.AddDays(14 + la.rng.IntN(150))
	case code == codes.W001:
		endAgo := 366 + la.rng.IntN(335)
		p.end = e.AddDays(-endAgo)
		p.start = p.end.AddDays(-la.rng.IntN(min(age-endAgo, 400) + 1))
	default:
		longest, endShare := 730, 30
		if typ == plans.LAC {
			longest, endShare = 6*365, 25
		}
		endAgo := 0
		if la.rng.IntN(100) < endShare {
			endAgo = la.rng.IntN(min(age, 364) + 1)
			p.end = e.AddDays(-endAgo)
		}
		p.start = e.AddDays(-(endAgo + la.rng.IntN(min(age-endAgo, longest)+1)))
	}
	if !delta {
		la.plans = append(la.plans, p)
		if p.clean {
			la.lastClean = len(la.plans) - 1
		}
	}
	return p
}

// writePerson writes a new person to the demographics as the row's code
// needs: not at all for P001, sensitive for P002, merged into a new number
// for P004, another family name for P005, dead for P006.
func (la *laGen) writePerson(p person, code codes.Detail, e caldate.Date) {
	g := la.g
	switch code {
	case codes.P001:
		return
	case codes.P002:
		g.writePerson(p, "", "Y", caldate.Date{})
	case codes.P004:
		current := p
		current.nhs, current.mid = g.newNumber()
		g.writePerson(p, current.nhs, "", caldate.Date{})
		g.writePerson(current, "", "", caldate.Date{})
	case codes.P005:
		other := p
		for other.family == p.family {
			other.family = familyNames[la.rng.IntN(len(familyNames))]
		}
		g.writePerson(other, "", "", caldate.Date{})
	case codes.P006:
		dod := e.AddDays(-la.rng.IntN(min(60, e.DaysSince(p.dob)) + 1))
		g.writePerson(p, "", "", dod)
	default:
		sensitive := ""
		if la.rng.IntN(2) == 0 {
			sensitive = "N"
		}
		g.writePerson(p, "", sensitive, caldate.Date{})
	}
}

// fill writes plan p into r as the LA sends it, with the error of code.
func (la *laGen) fill(r *row, p plan, code codes.Detail, delta bool) {
	*r = row{}
	e := la.g.opts.Extract
	if delta {
		e = la.g.delta
	}
	r[colNHS] = la.nhsText(p.p.nhs)
	r[colType] = string(p.typ)
	r[colStart] = la.date(p.start)
	r[colEnd] = la.date(p.end)
	r[colDue] = la.date(p.due)
	r[colLocal] = p.localID
	r[colFamily] = p.p.family
	if la.upper {
		r[colFamily] = strings.ToUpper(r[colFamily])
	}
	r[colGiven] = p.p.given
	r[colDOB] = la.date(p.p.dob)
	k := la.rng.IntN(3) // which variant of the error
	switch code {
	case codes.R001:
		r[colNHS] = []string{"", " ", "   "}[k]
	case codes.R002:
		r[colNHS] = []string{p.p.nhs[:9], p.p.nhs[:9] + "O", p.p.nhs + "1"}[k]
	case codes.R003:
		d := p.p.nhs[9] - '0'
		r[colNHS] = p.p.nhs[:9] + string(rune('0'+(d+1+byte(k))%10))
	case codes.R004:
		r[colType] = []string{"CIN", "CP", "Looked After"}[k]
	case codes.R005:
		r[colStart] = []string{"", "31/02/" + fmt.Sprint(e.AddDays(-400).Time().Year()), "unknown"}[k]
	case codes.R006:
		r[colEnd] = []string{la.date(p.start.AddDays(-1 - la.rng.IntN(30))), "2025-13-01", "ongoing"}[k]
	case codes.R007:
		r[colStart] = la.date(e.AddDays(1 + la.rng.IntN(30)))
		r[colEnd] = ""
	case codes.R008:
		r[colDue] = []string{"", "TBC", "30/02/2027"}[k]
	case codes.R010:
		r[colLocal] = []string{"", " ", strings.Repeat("X", 65)}[k]
	case codes.R011:
		r[colAction] = "UPSERT"
		if delta {
			r[colAction] = []string{"AMEND", "INSERT", "REMOVE"}[k]
		}
	case codes.R012:
		r[colDOB] = []string{"30/02/2015", "unknown", "2015-00-10"}[k]
	case codes.R013:
		n := utf8.RuneCountInString(p.p.family) + 1
		r[colFamily] = strings.Repeat(p.p.family+"-", 101/n+1)
	case codes.P003:
		if p.p.dob.AddDays(1).After(e) {
			r[colDOB] = la.date(p.p.dob.AddDays(-1))
		} else {
			r[colDOB] = la.date(p.p.dob.AddDays(1))
		}
	case codes.W002:
		r[colDue] = la.date(e.AddDays(60 + la.rng.IntN(100)))
	}
}

// nhsText writes an NHS number as this LA does.
func (la *laGen) nhsText(nhs string) string {
	if la.spaced && len(nhs) == 10 {
		return nhs[:3] + " " + nhs[3:6] + " " + nhs[6:]
	}
	return nhs
}

// date writes a date as this LA does; "" for none.
func (la *laGen) date(d caldate.Date) string {
	if d.IsZero() {
		return ""
	}
	y, m, day := d.YMD()
	if la.dmy {
		return fmt.Sprintf("%d/%d/%04d", day, int(m), y)
	}
	return d.String()
}

// newLocalID returns the next of this LA's own references.
func (la *laGen) newLocalID() string {
	la.nextID++
	switch la.idStyle {
	case 0:
		return fmt.Sprintf("C-%d", la.nextID)
	case 1:
		return fmt.Sprintf("%s-%06d", la.code, la.nextID)
	case 2:
		return fmt.Sprintf("CH%08d", la.nextID)
	}
	return fmt.Sprintf("LCS/%d/%d", la.nextID/1000, la.nextID%1000)
}

// csvWriter writes a CSV return.
type csvWriter struct {
	f    *csvFile
	cols []int
	rec  []string
}

// newCSVWriter makes a CSV return in this LA's style: some send a BOM,
// CRLF, columns in another order or header names in capitals.
func (la *laGen) newCSVWriter(path string, withAction bool) (*csvWriter, error) {
	crlf := la.rng.IntN(2) == 0
	bom := la.rng.IntN(10) == 0
	shuffle := la.rng.IntN(5) == 0
	upperHeader := la.rng.IntN(5) == 0
	f, err := createCSV(path, crlf, bom)
	if err != nil {
		return nil, err
	}
	cols := []int{colNHS, colType, colStart, colEnd, colDue, colLocal, colFamily, colGiven, colDOB}
	if withAction {
		cols = append(cols, colAction)
	}
	if shuffle {
		la.rng.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
	}
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = csvNames[c]
		if upperHeader {
			header[i] = strings.ToUpper(header[i])
		}
	}
	if err := f.header(header); err != nil {
		f.abort()
		return nil, err
	}
	return &csvWriter{f: f, cols: cols, rec: make([]string, len(cols))}, nil
}

func (w *csvWriter) write(r *row) error {
	for i, c := range w.cols {
		w.rec[i] = r[c]
	}
	return w.f.cw.Write(w.rec)
}

func (w *csvWriter) close() error { return w.f.close() }
func (w *csvWriter) abort()       { w.f.abort() }

// xmlWriter writes an XML return.
type xmlWriter struct {
	f *plainFile
}

func newXMLWriter(path, la string, kind returns.Kind, extract caldate.Date) (*xmlWriter, error) {
	f, err := createFile(path)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f.w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CPISReturn xmlns=%q la=%q kind=%q extractDate=%q>\n",
		returns.Namespace, la, string(kind), extract.String())
	return &xmlWriter{f: f}, nil
}

func (w *xmlWriter) write(r *row) error {
	b := w.f.w
	b.WriteString("  <Plan>\n")
	for c, v := range r {
		if v == "" {
			continue
		}
		b.WriteString("    <")
		b.WriteString(xmlNames[c])
		b.WriteByte('>')
		if err := xml.EscapeText(b, []byte(v)); err != nil {
			return err
		}
		b.WriteString("</")
		b.WriteString(xmlNames[c])
		b.WriteString(">\n")
	}
	_, err := b.WriteString("  </Plan>\n")
	return err
}

func (w *xmlWriter) close() error {
	w.f.w.WriteString("</CPISReturn>\n")
	return w.f.close()
}

func (w *xmlWriter) abort() { w.f.abort() }
