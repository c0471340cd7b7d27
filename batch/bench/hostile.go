package bench

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cpis/batch/datadir"
	"cpis/batch/ingest"
	"cpis/batch/sample"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
)

// HostileOptions say what the hostile night sends.
type HostileOptions struct {
	// Dir is an empty directory to work in (the data dir goes in Dir/data).
	Dir string
	// Rows is the rows of each return; 0 means ingest.DefaultMaxRows - 1,
	// the most a return may have.
	Rows int
	// Identical is how many LAs send Rows identical rows; 0 means 8, and
	// a negative number none.
	Identical int
	// Start is the moment of the night; zero means time.Now.
	Start time.Time
}

// HostileNight is a data dir prepared with the hostile returns.
type HostileNight struct {
	Data  string    // the data dir
	Now   time.Time // the night's clock
	Rows  int       // data rows in all the returns
	Bytes int64     // bytes of all the returns as stored
}

// Widths of the free-text cells of a wide row: the most returns.md allows.
const (
	wideLocalID = 64
	wideName    = 100
)

// MakeHostileNight writes a data dir whose inboxes hold the returns that
// once stopped a night (one LA's wide FULL return, and several LAs each
// sending one row many times) and whose demographics reference knows every
// person in them:
//
//   - the first LA sends a gzipped FULL return of Rows distinct children,
//     every free-text cell at its widest (local_id 64 characters, the
//     names 100), the names differing from the reference's so that every
//     row is applied with a P005 warning naming them;
//   - each of the next Identical LAs sends a gzipped FULL return of one
//     such wide row Rows times (every row R009, so F010).
func MakeHostileNight(opts HostileOptions) (*HostileNight, error) {
	if opts.Rows <= 0 {
		opts.Rows = ingest.DefaultMaxRows - 1
	}
	switch {
	case opts.Identical == 0:
		opts.Identical = 8
	case opts.Identical < 0:
		opts.Identical = 0
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	las, err := datadir.ReadAuthorities(bytes.NewReader(sample.Authorities()), "authorities.csv")
	if err != nil {
		return nil, err
	}
	if len(las) < 1+opts.Identical {
		return nil, fmt.Errorf("hostile night: %d LAs wanted, %d known", 1+opts.Identical, len(las))
	}
	las = las[:1+opts.Identical]
	extract := caldate.InLondon(opts.Start).AddDays(-1)
	night := &HostileNight{Data: filepath.Join(opts.Dir, "data"), Now: opts.Start}

	// The wide LA's children take the numbers from 999000000x upwards; each
	// identical LA's one child takes one from the top of the range.
	wide := make([]string, 0, opts.Rows)
	for mid := uint32(1); len(wide) < opts.Rows; mid++ {
		if n, ok := nhsOf(mid); ok {
			wide = append(wide, n)
		}
	}
	var same []string
	for mid := uint32(999_998); len(same) < opts.Identical; mid-- {
		if n, ok := nhsOf(mid); ok {
			same = append(same, n)
		}
	}

	dob := extract.AddYears(-5)
	var pdsBuf bytes.Buffer
	pdsBuf.WriteString("nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n")
	for _, n := range append(append([]string(nil), wide...), same...) {
		fmt.Fprintf(&pdsBuf, "%s,Reference,Name,%s,,N,\n", n, dob)
	}
	if err := datadir.Init(night.Data, datadir.InitOptions{
		Authorities:  datadir.Source{Name: "authorities.csv", R: bytes.NewReader(sample.Authorities())},
		Demographics: &datadir.Source{Name: "demographics.csv", R: &pdsBuf},
		Now:          opts.Start.Add(-time.Hour),
	}); err != nil {
		return nil, err
	}

	row := func(w io.Writer, i int, nhs string) error {
		_, err := fmt.Fprintf(w, "%s,CPP,%s,,,%s,%s,%s,%s\n", nhs, extract.AddDays(-100), pad(fmt.Sprintf("C-%d-", i), wideLocalID, 'L'),
			pad("Family", wideName, 'f'), pad("Given", wideName, 'g'), dob)
		return err
	}
	// put writes a return of n rows; row i is key(i)'s local_id ordinal
	// and NHS number.
	put := func(la store.Authority, name string, n int, key func(int) (int, string)) error {
		size, err := writeReturn(night.Data, la, name, extract, func(w io.Writer) error {
			if _, err := io.WriteString(w, "nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth\n"); err != nil {
				return err
			}
			for i := range n {
				at, nhs := key(i)
				if err := row(w, at, nhs); err != nil {
					return err
				}
			}
			return nil
		})
		night.Rows += n
		night.Bytes += size
		return err
	}
	if err := put(las[0], "wide", opts.Rows, func(i int) (int, string) { return i, wide[i] }); err != nil {
		return nil, err
	}
	for k, la := range las[1:] {
		if err := put(la, "same", opts.Rows, func(int) (int, string) { return 0, same[k] }); err != nil {
			return nil, err
		}
	}
	return night, nil
}

// pad extends s with c to n characters.
func pad(s string, n int, c byte) string { return s + strings.Repeat(string(c), n-len(s)) }

// writeReturn writes a gzipped FULL return into la's inbox with a control
// file, as its MESH client would, and returns its size as stored.
func writeReturn(data string, la store.Authority, free string, extract caldate.Date, body func(io.Writer) error) (int64, error) {
	box := mesh.MailboxID(la.Code)
	name := fmt.Sprintf("CPIS_%s_FULL_%s_%s.csv.gz", la.Code, extract.Compact(), free)
	path := filepath.Join(data, "mailboxes", box, "inbox", name)
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	bw := bufio.NewWriterSize(zw, 1<<20)
	if err := body(bw); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: box, To: mesh.HubMailbox,
		Subject: "hostile", LocalID: name, WorkflowID: mesh.WorkflowUpload, IsCompressed: true,
		DTSID: mesh.NewMessageID(time.Now())}
	if err := os.WriteFile(filepath.Join(data, "mailboxes", box, "inbox", mesh.ControlName(name)), ctl.Marshal(), 0o640); err != nil {
		return 0, err
	}
	return st.Size(), f.Close()
}

// HostileResult is what RunHostileNight measured.
type HostileResult struct {
	Stage
	// CPU is the processor time the process spent (user and system), on
	// Linux; a busy machine stretches Wall, not CPU.
	CPU time.Duration
}

// RunHostileNight ingests a hostile night made by MakeHostileNight and
// measures it. Every return must end as it should: the wide one applied
// with warnings (CPF02), the identical ones refused (F010).
func RunHostileNight(ctx context.Context, night *HostileNight) (HostileResult, error) {
	db, err := store.Open(night.Data, store.Options{})
	if err != nil {
		return HostileResult{}, err
	}
	defer db.Close()
	var rep *ingest.Report
	cpu := cpuTime()
	st, err := measured("hostile night: ingest", func() error {
		var err error
		rep, err = ingest.Run(ctx, ingest.Config{DataDir: night.Data, DB: db, Now: func() time.Time { return night.Now }})
		return err
	})
	res := HostileResult{Stage: st, CPU: cpuTime() - cpu}
	res.Rows = night.Rows
	if err != nil {
		return res, err
	}
	if len(rep.Failed) > 0 {
		return res, rep.Failed[0]
	}
	for i, r := range rep.Results {
		want := "CPF02 "
		if i > 0 {
			want = "CPF04 F010"
		}
		if got := string(r.Code) + " " + string(r.Detail); got != want {
			return res, fmt.Errorf("%s: %s, want %s", r.File, got, want)
		}
	}
	return res, nil
}

// cpuTime returns the processor time of the process so far (Linux:
// /proc/self/stat, in clock ticks of 10 ms), or 0.
func cpuTime() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses; utime
	// and stime are the 14th and 15th of the whole line.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

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
	if check == 10 || string(d[:9]) == "999999999" {
		return "", false
	}
	d[9] = byte('0' + check)
	return string(d[:]), true
}
