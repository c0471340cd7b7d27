package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"cpis/store/caldate"
	"cpis/store/codes"
)

// The hot records (plans, demographics, row outcomes: one or more per row
// of every return and of the demographics reference) are kept in a compact
// binary form, written and read by hand (doc.go, "Records"). Each value
// begins with its format byte:
//
//	0x01  binary record, version 1 (this file)
//	'{'   JSON, as every store made before kept them (record format 0)
//
// Decoding accepts both, so that a value in the old form is still read;
// Open rewrites a store of record format 0 once (migrate.go). Any other
// first byte, a value cut short, a number or length beyond the value, a
// date outside 0001-01-01 to 9999-12-31, a flag this version does not know
// or bytes left over is an error, never a panic.

const (
	recordV1   = 0x01 // binary record, version 1
	recordJSON = '{'  // a JSON record of record format 0
)

// Flags of a plan record: which dates it holds.
const (
	planStart = 1 << iota
	planEnd
	planDue
	planFlags = planStart | planEnd | planDue
)

// Flags of a demographics record.
const (
	demoDOB = 1 << iota
	demoDOD
	demoSensitive
	demoSuperseded
	demoFlags = demoDOB | demoDOD | demoSensitive | demoSuperseded
)

// planRecord is the stored form of a plan; the key carries its identity.
// The JSON tags are those of record format 0.
type planRecord struct {
	Start   caldate.Date `json:"s"`
	End     caldate.Date `json:"e,omitzero"`
	Due     caldate.Date `json:"d,omitzero"`
	LocalID string       `json:"l"`
}

// appendPlanRecord appends r in binary form to dst:
//
//	0x01, flags (start, end, due present), start as a day number
//	(uvarint), end and due as days from the start (signed varint), the
//	local ID (uvarint length, bytes).
func appendPlanRecord(dst []byte, r planRecord) []byte {
	var flags byte
	if !r.Start.IsZero() {
		flags |= planStart
	}
	if !r.End.IsZero() {
		flags |= planEnd
	}
	if !r.Due.IsZero() {
		flags |= planDue
	}
	dst = append(dst, recordV1, flags)
	start := r.Start.DayNumber()
	if flags&planStart != 0 {
		dst = binary.AppendUvarint(dst, uint64(start))
	}
	if flags&planEnd != 0 {
		dst = binary.AppendVarint(dst, int64(r.End.DayNumber()-start))
	}
	if flags&planDue != 0 {
		dst = binary.AppendVarint(dst, int64(r.Due.DayNumber()-start))
	}
	return appendString(dst, r.LocalID)
}

// decodePlanRecord reads a plan value of either record format.
func decodePlanRecord(b []byte) (planRecord, error) {
	var r planRecord
	if len(b) > 0 && b[0] == recordJSON {
		err := json.Unmarshal(b, &r)
		return r, err
	}
	d := decoder{b: b}
	flags := d.header(planFlags)
	if flags&planStart != 0 {
		r.Start = d.day()
	}
	start := r.Start.DayNumber()
	if flags&planEnd != 0 {
		r.End = d.dayFrom(start)
	}
	if flags&planDue != 0 {
		r.Due = d.dayFrom(start)
	}
	r.LocalID = d.string()
	return r, d.end()
}

// demographic is the stored form of a demographics.Record; the key is the
// NHS number. The JSON tags are those of record format 0.
type demographic struct {
	Family       string       `json:"f,omitempty"`
	Given        string       `json:"g,omitempty"`
	DOB          caldate.Date `json:"b,omitzero"`
	SupersededBy string       `json:"s,omitempty"`
	Sensitive    bool         `json:"x,omitempty"`
	DOD          caldate.Date `json:"d,omitzero"`
}

// appendDemographic appends r in binary form to dst:
//
//	0x01, flags (date of birth, date of death, sensitive, superseded),
//	the date of birth as a day number (uvarint), the date of death as
//	days from the date of birth (signed varint), the family and given
//	names, then the successor's NHS number (each uvarint length, bytes).
func appendDemographic(dst []byte, r demographic) []byte {
	var flags byte
	if !r.DOB.IsZero() {
		flags |= demoDOB
	}
	if !r.DOD.IsZero() {
		flags |= demoDOD
	}
	if r.Sensitive {
		flags |= demoSensitive
	}
	if r.SupersededBy != "" {
		flags |= demoSuperseded
	}
	dst = append(dst, recordV1, flags)
	dob := r.DOB.DayNumber()
	if flags&demoDOB != 0 {
		dst = binary.AppendUvarint(dst, uint64(dob))
	}
	if flags&demoDOD != 0 {
		dst = binary.AppendVarint(dst, int64(r.DOD.DayNumber()-dob))
	}
	dst = appendString(dst, r.Family)
	dst = appendString(dst, r.Given)
	if flags&demoSuperseded != 0 {
		dst = appendString(dst, r.SupersededBy)
	}
	return dst
}

// decodeDemographic reads a demographics value of either record format.
func decodeDemographic(b []byte) (demographic, error) {
	var r demographic
	if len(b) > 0 && b[0] == recordJSON {
		err := json.Unmarshal(b, &r)
		return r, err
	}
	d := decoder{b: b}
	flags := d.header(demoFlags)
	if flags&demoDOB != 0 {
		r.DOB = d.day()
	}
	if flags&demoDOD != 0 {
		r.DOD = d.dayFrom(r.DOB.DayNumber())
	}
	r.Sensitive = flags&demoSensitive != 0
	r.Family = d.string()
	r.Given = d.string()
	if flags&demoSuperseded != 0 {
		if r.SupersededBy = d.string(); r.SupersededBy == "" && d.err == nil {
			d.fail("empty successor")
		}
	}
	return r, d.end()
}

// decodeDemographicFacts reads the facts of a demographics value of
// either record format, checking the whole value as decodeDemographic
// does but without copying its names.
func decodeDemographicFacts(b []byte) (DemographicFacts, error) {
	if len(b) > 0 && b[0] == recordJSON {
		r, err := decodeDemographic(b)
		return DemographicFacts{DOB: r.DOB, Sensitive: r.Sensitive, Superseded: r.SupersededBy != ""}, err
	}
	var f DemographicFacts
	d := decoder{b: b}
	flags := d.header(demoFlags)
	if flags&demoDOB != 0 {
		f.DOB = d.day()
	}
	if flags&demoDOD != 0 {
		d.dayFrom(f.DOB.DayNumber())
	}
	d.skip()
	d.skip()
	if flags&demoSuperseded != 0 {
		if d.skip() == 0 && d.err == nil {
			d.fail("empty successor")
		}
	}
	f.Sensitive = flags&demoSensitive != 0
	f.Superseded = flags&demoSuperseded != 0
	if err := d.end(); err != nil {
		return DemographicFacts{}, err
	}
	return f, nil
}

// appendRowOutcome appends o in binary form to dst:
//
//	0x01, the line (signed varint), then the local ID, the NHS number as sent,
//	the code, the detail code and the detail text (each uvarint length,
//	bytes).
func appendRowOutcome(dst []byte, o RowOutcome) []byte {
	dst = append(dst, recordV1)
	dst = binary.AppendVarint(dst, int64(o.Line))
	dst = appendString(dst, o.LocalID)
	dst = appendString(dst, o.NHSNumber)
	dst = appendString(dst, string(o.Code))
	dst = appendString(dst, string(o.Detail))
	return appendString(dst, o.Text)
}

// decodeRowOutcome reads a row outcome value of either record format.
func decodeRowOutcome(b []byte) (RowOutcome, error) {
	var o RowOutcome
	if len(b) > 0 && b[0] == recordJSON {
		err := json.Unmarshal(b, &o)
		return o, err
	}
	d := decoder{b: b}
	d.header(0)
	o.Line = int(d.varint())
	o.LocalID = d.string()
	o.NHSNumber = d.string()
	o.Code = codes.Code(d.string())
	o.Detail = codes.Detail(d.string())
	o.Text = d.string()
	return o, d.end()
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads a binary record. The first problem is kept in err; every
// read after it returns a zero value, so a decode function reads the whole
// layout and checks err once, at end.
type decoder struct {
	b   []byte
	off int
	err error
}

// errRecord is the cause of every binary record that does not decode.
var errRecord = errors.New("not a record of this format")

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", errRecord, fmt.Sprintf(format, args...), d.off)
	}
}

// header reads the format byte and, when known is not 0, a flags byte
// that may hold only the bits of known.
func (d *decoder) header(known byte) byte {
	if len(d.b) == 0 {
		d.fail("empty value")
		return 0
	}
	if d.b[0] != recordV1 {
		d.fail("unknown record format 0x%02x", d.b[0])
		return 0
	}
	d.off = 1
	if known == 0 {
		return 0
	}
	if len(d.b) < 2 {
		d.fail("no flags")
		return 0
	}
	flags := d.b[1]
	if flags&^known != 0 {
		d.fail("unknown flags 0x%02x", flags)
		return 0
	}
	d.off = 2
	return flags
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad number")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad number")
		return 0
	}
	d.off += n
	return v
}

// day reads a day number, which must name a date (never the zero Date:
// an absent date is a clear flag).
func (d *decoder) day() caldate.Date {
	n := d.uvarint()
	return d.date(n < 1<<62, int64(n))
}

// dayFrom reads a date kept as days from the day number base.
func (d *decoder) dayFrom(base int) caldate.Date {
	delta := d.varint()
	ok := delta > -1<<40 && delta < 1<<40
	return d.date(ok, int64(base)+delta)
}

func (d *decoder) date(ok bool, n int64) caldate.Date {
	if d.err != nil {
		return caldate.Date{}
	}
	v, inRange := caldate.FromDayNumber(int(n))
	if !ok || !inRange || n == 0 {
		d.fail("day number %d is not a date", n)
		return caldate.Date{}
	}
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length %d beyond the value", n)
		return ""
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}

// skip passes over a string as string reads it, without copying it, and
// returns its length.
func (d *decoder) skip() int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length %d beyond the value", n)
		return 0
	}
	d.off += int(n)
	return int(n)
}

// end reports the first problem, or bytes after the record.
func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d bytes after the record", len(d.b)-d.off)
	}
	return d.err
}

// RecordError is a stored record that does not decode: the bucket, the
// key in readable form (never the record) and why.
type RecordError struct {
	Bucket string
	Key    string
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("store: %s %s does not decode: %v", e.Bucket, e.Key, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

func recordError(bucket []byte, key string, err error) error {
	return &RecordError{Bucket: string(bucket), Key: key, Err: err}
}

// slab hands out the byte slices of the keys and values a write
// transaction puts. bbolt keeps each slice it is given until the
// transaction commits, so a buffer is never reused for the next record;
// records are appended to shared chunks instead, one allocation per chunk
// rather than one per record.
type slab struct{ buf []byte }

// slabChunk is the size of a slab's chunks.
const slabChunk = 64 << 10

// next returns an empty slice to append a record of about n bytes to.
func (s *slab) next(n int) []byte {
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]byte, 0, max(slabChunk, n))
	}
	return s.buf[len(s.buf):len(s.buf)]
}

// keep takes b, appended to a slice from next, as used and returns it
// with no room after it. A record that outgrew its chunk was moved by
// append and leaves the chunk as it was.
func (s *slab) keep(b []byte) []byte {
	if cap(b) == cap(s.buf)-len(s.buf) {
		s.buf = s.buf[:len(s.buf)+len(b)]
	}
	return b[:len(b):len(b)]
}
