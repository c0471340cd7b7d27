package pds

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"cpis/store/demographics"

	"cpis/store/caldate"
	"cpis/store/nhsnumber"
)

// Header is the exact header line of a demographics import file.
const Header = "nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death"

const numFields = 7

// LineError is a bad line in a demographics import file. It names the file,
// the physical line where the offending record starts (the header is line 1,
// or later after blank lines), the field and the value, so an operator can
// correct the file.
type LineError struct {
	File  string
	Line  int
	Field string // column name, "header", "record", or "" for malformed CSV
	Value string // the value at fault, as read
	Msg   string // what is wrong with it
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("demographics file %q line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("demographics file %q line %d: %s %q %s", e.File, e.Line, e.Field, e.Value, e.Msg)
}

// key is an NHS number as a number: the sets Read keeps grow with the whole
// reference, and a uint64 key takes a third of the memory of a string key.
type key uint64

func keyOf(nhs string) key {
	n, _ := strconv.ParseUint(nhs, 10, 64) // nhs is ten validated digits
	return key(n)
}

func (k key) String() string { return fmt.Sprintf("%010d", uint64(k)) }

// edge is one supersession, kept until the end of the file for the checks
// that need the whole reference.
type edge struct {
	from, to key
	line     int
}

// Read streams a demographics import file, validates every line and calls
// put for each record in file order. fileName is used in errors only.
//
// The file is UTF-8 (a BOM is allowed), CRLF or LF, with exactly Header as
// its first record; blank lines are skipped. Any bad line stops the read
// with a *LineError; records already passed to put must then be discarded
// by the caller. Two checks need the whole file and run after the last
// line: every superseded_by names a number in the file, and no supersession
// chain loops. An error from put is returned wrapped; an error reading r is
// returned wrapped, not as a LineError.
//
// Read keeps only the set of numbers seen and the supersession edges, never
// whole records, so memory grows with the number of rows, not their size.
func Read(r io.Reader, fileName string, put func(demographics.Record) error) error {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		if _, err := br.Discard(3); err != nil {
			return fmt.Errorf("read demographics file %q: %w", fileName, err)
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted here, to report the line with its value
	cr.ReuseRecord = true

	lineErr := func(line int, field, value, msg string) error {
		return &LineError{File: fileName, Line: line, Field: field, Value: value, Msg: msg}
	}
	readErr := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return lineErr(pe.StartLine, "", "", "malformed CSV: "+pe.Err.Error())
		}
		return fmt.Errorf("read demographics file %q: %w", fileName, err)
	}

	head, err := cr.Read()
	if err == io.EOF {
		return lineErr(1, "header", "", "is missing: want "+Header)
	}
	if err != nil {
		return readErr(err)
	}
	if got := strings.Join(head, ","); got != Header {
		line, _ := cr.FieldPos(0)
		return lineErr(line, "header", got, "is not "+Header)
	}

	seen := make(map[key]struct{})
	var edges []edge
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return readErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != numFields {
			return lineErr(line, "record", strings.Join(rec, ","),
				fmt.Sprintf("has %d fields, want %d", len(rec), numFields))
		}
		var out demographics.Record
		var p nhsnumber.Problem
		if out.NHS, p = nhsnumber.Normalize(rec[0]); p != nhsnumber.OK {
			return lineErr(line, "nhs_number", rec[0], numberMsg(p))
		}
		k := keyOf(out.NHS)
		if _, dup := seen[k]; dup {
			return lineErr(line, "nhs_number", rec[0], "appears more than once in the file")
		}
		for i, name := range []string{"family_name", "given_name"} {
			if !utf8.ValidString(rec[1+i]) {
				return lineErr(line, name, rec[1+i], "is not UTF-8 text")
			}
		}
		out.FamilyName, out.GivenName = rec[1], rec[2]
		if out.DOB, err = parseDate(rec[3]); err != nil {
			return lineErr(line, "date_of_birth", rec[3], "is not a date (want YYYY-MM-DD)")
		}
		if rec[4] != "" {
			if out.SupersededBy, p = nhsnumber.Normalize(rec[4]); p != nhsnumber.OK {
				return lineErr(line, "superseded_by", rec[4], numberMsg(p))
			}
			if out.SupersededBy == out.NHS {
				return lineErr(line, "superseded_by", rec[4], "names the record's own number (supersession loop)")
			}
			edges = append(edges, edge{from: k, to: keyOf(out.SupersededBy), line: line})
		}
		switch rec[5] {
		case "Y", "y":
			out.Sensitive = true
		case "N", "n", "":
		default:
			return lineErr(line, "sensitive", rec[5], "is not Y, N or empty")
		}
		if out.DOD, err = parseDate(rec[6]); err != nil {
			return lineErr(line, "date_of_death", rec[6], "is not a date (want YYYY-MM-DD)")
		}
		seen[k] = struct{}{}
		if err := put(out); err != nil {
			return fmt.Errorf("demographics file %q line %d: %w", fileName, line, err)
		}
	}
	return checkEdges(fileName, seen, edges)
}

// checkEdges runs the whole-file checks in line order, so the same file
// always reports the same line.
func checkEdges(fileName string, seen map[key]struct{}, edges []edge) error {
	next := make(map[key]int, len(edges)) // from -> index in edges
	for i, e := range edges {
		next[e.from] = i
	}
	for _, e := range edges {
		if _, ok := seen[e.to]; !ok {
			return &LineError{File: fileName, Line: e.line, Field: "superseded_by", Value: e.to.String(),
				Msg: "is not a number in the file"}
		}
	}
	// Walk each chain once: 1 = on the current walk, 2 = known to end.
	state := make(map[key]uint8, len(edges))
	var walk []key
	for _, e := range edges {
		walk = walk[:0]
		k := e.from
		for {
			s := state[k]
			if s == 2 {
				break
			}
			if s == 1 {
				return loopError(fileName, edges, next, k)
			}
			i, ok := next[k]
			if !ok {
				break // k is current: the chain ends
			}
			state[k] = 1
			walk = append(walk, k)
			k = edges[i].to
		}
		for _, w := range walk {
			state[w] = 2
		}
	}
	return nil
}

// loopError reports the loop through k at the line of its first record in
// the file, naming the loop's numbers in order from there.
func loopError(fileName string, edges []edge, next map[key]int, k key) error {
	first := edges[next[k]]
	for j := edges[next[k]].to; j != k; j = edges[next[j]].to {
		if e := edges[next[j]]; e.line < first.line {
			first = e
		}
	}
	const most = 8 // numbers named; a longer loop is shown cut
	names := []string{first.from.String()}
	for j := first.to; j != first.from; j = edges[next[j]].to {
		if len(names) == most {
			names = append(names, "...")
			break
		}
		names = append(names, j.String())
	}
	names = append(names, first.from.String())
	return &LineError{File: fileName, Line: first.line, Field: "superseded_by", Value: first.to.String(),
		Msg: "makes a supersession loop (" + strings.Join(names, " -> ") + ")"}
}

func parseDate(s string) (caldate.Date, error) {
	if s == "" {
		return caldate.Date{}, nil
	}
	return caldate.ParseISO(s)
}

func numberMsg(p nhsnumber.Problem) string {
	switch p {
	case nhsnumber.Missing:
		return "is empty: want an NHS number"
	case nhsnumber.NotTenDigits:
		return "is not an NHS number: want 10 digits"
	}
	return "is not an NHS number: fails the check digit"
}
