// Package generate writes realistic synthetic national data for the hub
// (issue 6): the authorities, a demographics (PDS) extract, a FULL and a
// DELTA return for every LA, and health-care lookups for the lookup
// benchmark. Nothing in it is real: NHS numbers are in the 999 test range,
// names, organisations and users are invented.
//
// # What it writes
//
// Into Options.Out:
//
//	authorities.csv                      the first N sample authorities (cpis init --authorities)
//	demographics.csv                     one record per person (cpis pds import)
//	returns/<LA>/CPIS_<LA>_FULL_<E>.csv  (or .xml for every fifth LA, the 2nd, 7th, 12th, ...)
//	returns/<LA>/CPIS_<LA>_DELTA_<E+1>.csv
//	accesses.csv                         nhs_number,org_code,org_name,setting,user_name,user_role
//
// E is Options.Extract (the CLI uses the London date of --now minus one), so
// the FULL returns are in date on E+1 and the DELTA returns on E+1 too.
//
// # Sizes
//
// The real number of children each LA holds is not in the repository, so
// each LA's share is a fixed, deterministic weight derived from its LA code
// (not from the seed: the same LA is always the same size): an FNV-1a hash
// of the code, mixed by splitmix64's finaliser, gives u in [0,1), the raw weight is 0.1-ln(1-u) (an
// exponential, like the long tail of English LA sizes), and every raw weight
// is raised to the power that makes the largest of the 153 weights 5 times
// their mean (DfE: about 1,600 plans per LA on average, up to about 8,000).
// City of London (201) and Isles of Scilly (906), which really hold a handful
// of children, get a weight of 0.02. The FULL returns' rows add up to
// Options.Plans exactly (largest remainder; every LA gets at least one row
// when there are at least as many plans as LAs). A DELTA carries about 1% of
// its LA's FULL (at least one row): 45% UPSERTs ending an open plan, 40% new
// plans, 15% DELETEs.
//
// # Plans
//
// Plan types are drawn 45% LAC, 50% CPP, 5% UCPP. Children are under 18 on
// the DELTA's date and their plans started on or after their birth, CPPs up
// to 2 years and LACs up to 6 years before E; 30% of CPPs and 25% of LACs
// ended within the last year (so every clean row is visible on E). A UCPP
// is on an adult mother's number (16 to 44), started in the last 4 months
// and is due 2 to 23 weeks after E. Every person has a distinct valid
// 999-range NHS number; about 1% of plans (more when Plans nears the size of
// the 999 range, about 909,000 numbers) are a second plan, with another LA,
// of a child already in an earlier LA's return. Demographics hold every
// person in the returns (except the deliberately unknown), plus 5% extra
// people with no plan (some sensitive, dead or merged), whom the lookups
// also ask about.
//
// # Errors
//
// With ErrorRate R, each row carries an error with probability R. The
// errors take every row detail code in turn, so each gets an equal share:
// in FULL returns R001-R013, P001-P006, W001 and W002; in DELTA returns the
// same and W003, which comes first. A row with R009 repeats the key of the
// last clean row before it, so both are rejected. P-codes come from people
// written to the demographics for the purpose: unknown (not written),
// sensitive, merged (superseded_by), another date of birth, another family
// name, a date of death.
//
// # Determinism
//
// The same Options give byte-identical files. Every random choice comes
// from math/rand/v2 PCG streams seeded from Options.Seed (one per LA, one
// for the rest), in a fixed order; no map is iterated.
package generate

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"cpis/batch/returns"
	"cpis/batch/sample"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// DefaultPlans is England's plans visible at once (about 230,000-250,000:
// 81,770 looked after and 49,420 on plans at 31 March 2025, plus those
// ended within a year).
const DefaultPlans = 250_000

// MaxPlans bounds Options.Plans: the 999 range holds about 909,000 valid
// numbers, and beyond this many plans too many children would need plans
// with several LAs.
const MaxPlans = 2_000_000

// File names in Options.Out.
const (
	AuthoritiesFile  = "authorities.csv"
	DemographicsFile = "demographics.csv"
	AccessesFile     = "accesses.csv"
	ReturnsDir       = "returns"
)

// AccessesHeader is the header of accesses.csv.
const AccessesHeader = "nhs_number,org_code,org_name,setting,user_name,user_role"

// demographicsHeader is pds.Header, spelled out so that this package does
// not depend on the reader it feeds.
const demographicsHeader = "nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death"

// Options say what to generate.
type Options struct {
	// Out is the directory to write into: created when absent, refused when
	// it holds anything.
	Out string
	// Authorities is how many of the 153 sample authorities, in file order;
	// 0 means all.
	Authorities int
	// Plans is the number of rows of all FULL returns together; 0 means
	// DefaultPlans.
	Plans int
	// ErrorRate is the share of rows that carry an error, 0 to 1.
	ErrorRate float64
	// Seed seeds every random choice.
	Seed uint64
	// Extract is the FULL returns' extract date; the DELTA returns are
	// dated a day later. Required.
	Extract caldate.Date
	// Accesses is the number of lookups in accesses.csv; 0 means Plans/5
	// (at least 100), negative means none.
	Accesses int
}

// Result says what Generate wrote.
type Result struct {
	Dir         string
	Extract     caldate.Date // FULL returns
	DeltaDate   caldate.Date // DELTA returns: Extract + 1
	Authorities int
	Plans       int // rows of the FULL returns
	DeltaRows   int // rows of the DELTA returns
	ErrorRows   int // rows given an error on purpose (an R009 row's clean partner not counted)
	People      int // demographics records
	Accesses    int
	Returns     []LAReturns // in authorities file order
}

// LAReturns are one LA's returns, with paths relative to Result.Dir
// (slash-separated).
type LAReturns struct {
	LA        string
	Format    returns.Format // of the FULL return; DELTA returns are CSV
	Full      string
	Delta     string
	FullRows  int
	DeltaRows int
}

// Generate writes a synthetic national data set (see the package comment).
func Generate(opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	las, err := sampleAuthorities(opts.Authorities)
	if err != nil {
		return nil, err
	}
	if err := prepareOut(opts.Out); err != nil {
		return nil, err
	}
	g := newGen(opts, las)
	if err := g.run(); err != nil {
		return nil, err
	}
	return g.res, nil
}

func (o *Options) defaults() error {
	switch {
	case o.Out == "":
		return errors.New("generate: no output directory")
	case o.Extract.IsZero():
		return errors.New("generate: no extract date")
	case o.Authorities < 0 || o.Authorities > 153:
		return fmt.Errorf("generate: %d authorities: there are 153", o.Authorities)
	case o.Plans < 0 || o.Plans > MaxPlans:
		return fmt.Errorf("generate: %d plans: give 1 to %d", o.Plans, MaxPlans)
	case math.IsNaN(o.ErrorRate) || o.ErrorRate < 0 || o.ErrorRate > 1:
		return fmt.Errorf("generate: error rate %v is not between 0 and 1", o.ErrorRate)
	}
	if o.Authorities == 0 {
		o.Authorities = 153
	}
	if o.Plans == 0 {
		o.Plans = DefaultPlans
	}
	if o.Accesses == 0 {
		o.Accesses = max(100, o.Plans/5)
	}
	if o.Accesses < 0 {
		o.Accesses = 0
	}
	return nil
}

// prepareOut makes dir, refusing one that holds anything: a data set must
// not mix with an older one.
func prepareOut(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return fmt.Errorf("generate: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("generate: %s is not empty", dir)
	}
	return nil
}

// authority is one line of the sample authorities file.
type authority struct {
	code string
	line []byte // as in the sample file, without its line end
}

// sampleAuthorities returns the first n sample authorities and checks the
// file is as expected.
func sampleAuthorities(n int) ([]authority, error) {
	lines := bytes.Split(bytes.TrimRight(sample.Authorities(), "\r\n"), []byte("\n"))
	if len(lines) < 1+n {
		return nil, fmt.Errorf("generate: the sample has %d authorities, not %d", len(lines)-1, n)
	}
	out := make([]authority, n)
	for i := range n {
		line := bytes.TrimRight(lines[1+i], "\r")
		code, _, _ := bytes.Cut(line, []byte(","))
		out[i] = authority{code: string(code), line: line}
	}
	return out, nil
}

// gen is one run of Generate.
type gen struct {
	opts  Options
	las   []authority
	res   *Result
	rng   *rand.Rand // everything that is not one LA's
	pool  numberPool
	delta caldate.Date

	demog   *csvFile
	people  int
	ring    []person // clean children of earlier LAs, for second plans
	ringPos int
	planned []uint32 // 999-range numbers (middle digits) of clean people with plans
	extras  []uint32

	fullCodes, deltaCodes []codes.Detail
	fullNext, deltaNext   int

	plansLeft int
	err       error
}

func newGen(opts Options, las []authority) *gen {
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6370697367656e31)) // "cpisgen1"
	g := &gen{
		opts:  opts,
		las:   las,
		rng:   rng,
		pool:  newNumberPool(rng),
		delta: opts.Extract.AddDays(1),
		res: &Result{Dir: opts.Out, Extract: opts.Extract, DeltaDate: opts.Extract.AddDays(1),
			Authorities: len(las)},
		plansLeft: opts.Plans,
	}
	g.fullCodes = []codes.Detail{
		codes.R001, codes.R002, codes.R003, codes.R004, codes.R005, codes.R006, codes.R007,
		codes.R008, codes.R009, codes.R010, codes.R011, codes.R012, codes.R013,
		codes.P001, codes.P002, codes.P003, codes.P004, codes.P005, codes.P006,
		codes.W001, codes.W002,
	}
	g.deltaCodes = append([]codes.Detail{codes.W003}, g.fullCodes...)
	return g
}

func (g *gen) run() error {
	if err := g.writeAuthorities(); err != nil {
		return err
	}
	var err error
	if g.demog, err = createCSV(filepath.Join(g.opts.Out, DemographicsFile), false, false); err != nil {
		return err
	}
	defer g.demog.abort()
	if err := g.demog.header(strings.Split(demographicsHeader, ",")); err != nil {
		return err
	}
	counts := allocate(g.opts.Plans, g.las)
	for i, a := range g.las {
		lr, err := g.writeLA(i, a, counts[i])
		if err != nil {
			return err
		}
		g.res.Returns = append(g.res.Returns, lr)
		g.res.Plans += lr.FullRows
		g.res.DeltaRows += lr.DeltaRows
		g.plansLeft -= lr.FullRows
	}
	g.writeExtras()
	if g.err != nil {
		return g.err
	}
	if err := g.demog.close(); err != nil {
		return err
	}
	g.res.People = g.people
	return g.writeAccesses()
}

func (g *gen) writeAuthorities() error {
	f, err := createFile(filepath.Join(g.opts.Out, AuthoritiesFile))
	if err != nil {
		return err
	}
	defer f.abort()
	f.w.WriteString(datadirHeader + "\n")
	for _, a := range g.las {
		f.w.Write(a.line)
		f.w.WriteByte('\n')
	}
	return f.close()
}

// datadirHeader is datadir.AuthoritiesHeader.
const datadirHeader = "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone"

// nextCode returns the next error code of a FULL (delta false) or DELTA
// return, skipping R009 when skipR009 (no clean row to repeat yet).
func (g *gen) nextCode(delta, skipR009 bool) codes.Detail {
	list, next := g.fullCodes, &g.fullNext
	if delta {
		list, next = g.deltaCodes, &g.deltaNext
	}
	for {
		c := list[*next%len(list)]
		*next++
		if c == codes.R009 && skipR009 {
			continue
		}
		g.res.ErrorRows++
		return c
	}
}

// person is someone in the demographics.
type person struct {
	nhs    string
	mid    uint32 // the number's middle six digits
	family string
	given  string
	dob    caldate.Date
}

// writePerson writes a demographics record.
func (g *gen) writePerson(p person, supersededBy, sensitive string, dod caldate.Date) {
	g.people++
	if err := g.demog.write(p.nhs, p.family, p.given, p.dob.String(), supersededBy, sensitive, dod.String()); err != nil && g.err == nil {
		g.err = err
	}
}

// newNumber returns an unused 999-range NHS number.
func (g *gen) newNumber() (string, uint32) {
	nhs, mid, ok := g.pool.next()
	if !ok && g.err == nil {
		g.err = fmt.Errorf("generate: the 999 range has no NHS numbers left (%d plans is too many)", g.opts.Plans)
	}
	return nhs, mid
}

// newPerson returns a new person born on dob (not yet written), a woman
// when female.
func (g *gen) newPerson(rng *rand.Rand, dob caldate.Date, female bool) person {
	nhs, mid := g.newNumber()
	given := givenNames
	if female {
		given = femaleNames
	}
	return person{nhs: nhs, mid: mid, family: familyNames[rng.IntN(len(familyNames))], given: given[rng.IntN(len(given))], dob: dob}
}

// addToRing keeps p as a candidate for a second plan with a later LA.
func (g *gen) addToRing(p person) {
	const ringSize = 1 << 16
	if len(g.ring) < ringSize {
		g.ring = append(g.ring, p)
		return
	}
	g.ring[g.ringPos] = p
	g.ringPos = (g.ringPos + 1) % ringSize
}

// reuseShare is the share of an LA's clean child plans given to a child of
// an earlier LA: 1%, more when the numbers left would not last.
func (g *gen) reuseShare() float64 {
	left := float64(g.pool.left())
	need := float64(g.plansLeft)*(1.03+g.opts.ErrorRate) + float64(g.extraCount())
	share := 0.01
	if need > 0.85*left {
		share = 1 - 0.85*left/need
	}
	return min(share, 0.9)
}

func (g *gen) extraCount() int { return min(max(10, g.opts.Plans/20), 50_000) }

// writeExtras writes the people with no plan: 2% of them sensitive, 2%
// dead, 2% merged into the next one.
func (g *gen) writeExtras() {
	n := g.extraCount()
	ps := make([]person, n)
	for i := range ps {
		ps[i] = g.newPerson(g.rng, g.opts.Extract.AddDays(-g.rng.IntN(80*365)), false)
	}
	for i, p := range ps {
		var superseded, sensitive string
		var dod caldate.Date
		switch u := g.rng.IntN(100); {
		case u < 2:
			sensitive = "Y"
		case u < 4:
			dod = p.dob.AddDays(g.rng.IntN(g.opts.Extract.DaysSince(p.dob) + 1))
		case u < 6 && i+1 < n:
			superseded = ps[i+1].nhs
		default:
			sensitive = "N"
		}
		g.writePerson(p, superseded, sensitive, dod)
		g.extras = append(g.extras, p.mid)
	}
}

// allocate shares plans among the LAs by their weights (see the package
// comment), exactly, by largest remainder.
func allocate(total int, las []authority) []int {
	w := laWeights()
	ws := make([]float64, len(las))
	sum := 0.0
	for i, a := range las {
		ws[i] = w[a.code]
		sum += ws[i]
	}
	counts := make([]int, len(las))
	type rem struct {
		i int
		f float64
	}
	rems := make([]rem, len(las))
	given := 0
	for i := range las {
		exact := float64(total) * ws[i] / sum
		counts[i] = int(exact)
		given += counts[i]
		rems[i] = rem{i, exact - float64(counts[i])}
	}
	// Largest remainders first; ties by file order (a stable sort by hand:
	// the slice is small).
	for left := total - given; left > 0; left-- {
		best := -1
		for j, r := range rems {
			if r.f >= 0 && (best < 0 || r.f > rems[best].f) {
				best = j
			}
		}
		counts[rems[best].i]++
		rems[best].f = -1
	}
	if total >= len(las) {
		for i := range counts {
			if counts[i] > 0 {
				continue
			}
			big := 0
			for j := range counts {
				if counts[j] > counts[big] {
					big = j
				}
			}
			counts[big]--
			counts[i]++
		}
	}
	return counts
}

// laWeights returns the relative size of every sample LA, by LA code: the
// table of the package comment, scaled so that the largest is 5 times the
// mean.
func laWeights() map[string]float64 {
	all, _ := sampleAuthorities(153)
	raw := make([]float64, len(all))
	for i, a := range all {
		h := fnv.New64a()
		io.WriteString(h, "cpis-la-size/"+a.code)
		u := float64(mix(h.Sum64())>>11) / (1 << 53)
		raw[i] = 0.1 - math.Log1p(-u)
		if a.code == "201" || a.code == "906" { // City of London, Isles of Scilly
			raw[i] = 0.02
		}
	}
	ratio := func(gamma float64) float64 {
		sum, top := 0.0, 0.0
		for _, r := range raw {
			v := math.Pow(r, gamma)
			sum += v
			top = max(top, v)
		}
		return top / (sum / float64(len(raw)))
	}
	lo, hi := 0.05, 8.0
	for range 100 {
		mid := (lo + hi) / 2
		if ratio(mid) < 5 {
			lo = mid
		} else {
			hi = mid
		}
	}
	out := make(map[string]float64, len(all))
	for i, a := range all {
		out[a.code] = math.Pow(raw[i], lo)
	}
	return out
}

// mix is splitmix64's finaliser: FNV-1a alone leaves the high bits of
// similar short strings alike.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// numberPool hands out distinct valid NHS numbers 999xxxxxxC in an order
// fixed by the seed: the middle six digits run through i*a+b mod 10^6 with
// a coprime to 10, skipping those whose check digit would be 10.
type numberPool struct {
	a, b, i uint64
	handed  uint64
}

func newNumberPool(rng *rand.Rand) numberPool {
	a := uint64(100_003 + 2*rng.IntN(400_000))
	for a%5 == 0 {
		a += 2
	}
	return numberPool{a: a, b: rng.Uint64N(1_000_000)}
}

func (p *numberPool) next() (string, uint32, bool) {
	for p.i < 1_000_000 {
		mid := uint32((p.i*p.a + p.b) % 1_000_000)
		p.i++
		if nhs, ok := nhsOf(mid); ok {
			p.handed++
			return nhs, mid, true
		}
	}
	return "9990000000", 0, false
}

// left estimates the numbers still to hand out (10 of every 11 are valid).
func (p *numberPool) left() uint64 { return (1_000_000 - p.i) * 10 / 11 }

// nhsOf returns the NHS number 999 + mid (6 digits) + check digit, and
// false when no check digit makes it valid.
func nhsOf(mid uint32) (string, bool) {
	var d [10]byte
	d[0], d[1], d[2] = '9', '9', '9'
	for i, m := 8, mid; i >= 3; i-- {
		d[i] = byte('0' + m%10)
		m /= 10
	}
	sum := 0
	for i := range 9 {
		sum += int(d[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 {
		return "", false
	}
	d[9] = byte('0' + check)
	if string(d[:]) == "9999999999" { // one repeated digit
		return "", false
	}
	return string(d[:]), true
}

// nhsMid returns the NHS number of the middle digits mid, known valid.
func nhsMid(mid uint32) string {
	s, _ := nhsOf(mid)
	return s
}

// typeOf draws a plan type: 45% LAC, 50% CPP, 5% UCPP.
func typeOf(rng *rand.Rand) plans.Type {
	switch u := rng.IntN(100); {
	case u < 45:
		return plans.LAC
	case u < 95:
		return plans.CPP
	}
	return plans.UCPP
}

// csvFile is a CSV file written through a buffer.
type csvFile struct {
	f   *os.File
	w   *bufio.Writer
	cw  *csv.Writer
	rec []string
}

func createCSV(path string, crlf, bom bool) (*csvFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	if bom {
		w.WriteString("\uFEFF")
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = crlf
	return &csvFile{f: f, w: w, cw: cw}, nil
}

func (c *csvFile) header(h []string) error { return c.cw.Write(h) }

func (c *csvFile) write(fields ...string) error { return c.cw.Write(fields) }

func (c *csvFile) close() error {
	c.cw.Flush()
	err := c.cw.Error()
	if err == nil {
		err = c.w.Flush()
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	c.f = nil
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

// abort closes the file if close was not reached (an error on the way).
func (c *csvFile) abort() {
	if c.f != nil {
		c.f.Close()
	}
}

// plainFile is any other file written through a buffer.
type plainFile struct {
	f *os.File
	w *bufio.Writer
}

func createFile(path string) (*plainFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return &plainFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (p *plainFile) close() error {
	err := p.w.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.f = nil
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

func (p *plainFile) abort() {
	if p.f != nil {
		p.f.Close()
	}
}
