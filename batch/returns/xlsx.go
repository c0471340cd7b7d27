package returns

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"cpis/store/caldate"
	"cpis/store/codes"
)

// An XLSX return (returns.md, "XLSX") is an Office Open XML package: a zip
// of XML parts. The reader opens only the parts it needs (the package and
// workbook relationships, the workbook, its styles and shared strings, and
// the first worksheet) and streams the worksheet's rows with encoding/xml,
// one row at a time, as the CSV and XML readers stream theirs.
//
// It reads the worksheet XML itself rather than through a spreadsheet
// library's row iterator, because a row must be read cell by cell: whether
// a cell holds a formula without a cached value or an Excel error (the row
// is then rejected, naming the cell), which style and so which number format a number has (a
// date or not), and whether the worksheet XML is broken (a broken
// worksheet must fail the file, never end its rows early: a FULL return
// cut short would withdraw plans).
//
// Size: every part's size as the zip's central directory declares it, and
// the sum of them, must be within the limit (F006), and every part read is
// counted as it is unpacked, on its own and with the parts read before it.
// archive/zip refuses a part longer than declared, or whose checksum
// fails: such a part is unpacked again from its raw data, into nothing and
// up to the limit only, and is F006 when it passes the limit, F001 (damaged)
// otherwise. So a zip bomb is refused before anything is unpacked, and a
// lying header cannot get past the count, nor make a bomb look merely
// damaged. Shared strings are held in memory (a few bytes beyond their text
// each), as are the styles' date flags; a worksheet never is.

// oleMagic starts an OLE compound file: what Excel writes for a workbook
// saved with a password (the encrypted package inside), and for the old
// binary .xls format.
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Relationship types, by their last path segment: transitional and strict
// Office Open XML differ only in the namespace before it.
const (
	relOfficeDocument = "/officeDocument"
	relWorksheet      = "/worksheet"
	relSharedStrings  = "/sharedStrings"
	relStyles         = "/styles"
)

// saveHint is how an LA officer makes a workbook the hub reads.
const saveHint = `save it from Excel as an "Excel Workbook (.xlsx)" without a password`

// xlsxReader reads the first worksheet of a workbook one row at a time.
type xlsxReader struct {
	sheet    string // the worksheet's part name, for messages
	g        *guard
	dec      *xml.Decoder
	closer   io.Closer
	shared   []string // shared strings
	dates    []bool   // per cell style (cellXfs index): a date number format
	date1904 bool
	index    [numColumns]int // worksheet column (from 0) of each return column; -1 when absent
	width    int             // columns the header names: cells beyond them must be empty
	lastRow  int
	err      error // final failure, io.EOF included
}

var _ Reader = (*xlsxReader)(nil)

// NewXLSXReader returns a Reader of the workbook r of size bytes, for the
// return that n names (its format XLSX). limit bounds the file, every part
// it unpacks, and all of them together (F006 beyond). It reads the
// workbook's structure, styles, shared strings and header row before it
// returns, so their failures come from NewXLSXReader; the rows of the
// first worksheet then stream. A file that is not a readable workbook, or
// is encrypted, is F001; a workbook with macros F002.
func NewXLSXReader(r io.ReaderAt, size int64, n Name, limit int64) (Reader, error) {
	if size > limit {
		return nil, &codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook is %d bytes, over the size limit of %d bytes", size, limit)}
	}
	head := make([]byte, len(oleMagic))
	k, _ := r.ReadAt(head, 0)
	head = head[:k]
	if bytes.Equal(head, oleMagic) {
		return nil, notWorkbook("the workbook is encrypted (saved with a password), or is an old Excel 97-2003 .xls file: " + saveHint)
	}
	if !bytes.HasPrefix(head, []byte("PK")) {
		return nil, notWorkbook("the file is not an Excel workbook (.xlsx): " + saveHint)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, notWorkbook(fmt.Sprintf("the file is not a readable Excel workbook (.xlsx): %v", err))
	}
	p, err := newPackage(zr, limit)
	if err != nil {
		return nil, err
	}
	x, err := p.open()
	if err != nil {
		return nil, err
	}
	if err := x.readHeader(n.Kind); err != nil {
		x.closer.Close()
		return nil, err
	}
	return x, nil
}

// XLSXBounds returns at most how many rows the workbook r of size bytes
// can hold, and how many bytes of shared strings a reader of it may hold
// in memory: a non-empty row takes at least 25 bytes of worksheet XML
// (<row><c><v>1</v></c></row>), and a part cannot unpack to more than its
// declared size. It returns -1, -1 when r is not a zip.
func XLSXBounds(r io.ReaderAt, size int64) (rows, held int64) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return -1, -1
	}
	var n, strs uint64
	for _, f := range zr.File {
		switch name := partName(f.Name); {
		case strings.HasPrefix(name, "xl/worksheets/"):
			n += f.UncompressedSize64 / 25
		case strings.Contains(name, "sharedstrings"):
			strs += f.UncompressedSize64
		}
	}
	return int64(min(n, math.MaxInt32)) + 1, int64(min(strs, math.MaxInt32))
}

func notWorkbook(text string) error { return &codes.Error{Detail: codes.F001, Text: text} }

// xlsxPackage is the parts of a workbook by part name (lower case, no
// leading "/": part names compare without case).
type xlsxPackage struct {
	parts    map[string]*zip.File
	limit    int64
	unpacked int64 // bytes unpacked from every part read so far
}

// show returns the name of the part name as the zip spells it.
func (p *xlsxPackage) show(name string) string {
	if f, ok := p.parts[name]; ok {
		return f.Name
	}
	return name
}

func partName(s string) string {
	return strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(s, `\`, "/"), "/"))
}

// newPackage checks the declared sizes of every part and their sum
// against the limit, and refuses a workbook with macros.
func newPackage(zr *zip.Reader, limit int64) (*xlsxPackage, error) {
	p := &xlsxPackage{parts: map[string]*zip.File{}, limit: limit}
	var total uint64
	for _, f := range zr.File {
		if f.UncompressedSize64 > uint64(limit) {
			return nil, &codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook's part %s unpacks to %d bytes, over the size limit of %d bytes", f.Name, f.UncompressedSize64, limit)}
		}
		if total += f.UncompressedSize64; total > uint64(limit) {
			return nil, &codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook's parts unpack to more than the size limit of %d bytes together", limit)}
		}
		name := partName(f.Name)
		if path.Base(name) == "vbaproject.bin" {
			return nil, &codes.Error{Detail: codes.F002, Text: fmt.Sprintf("the workbook holds macros (%s): %s", f.Name, saveHint)}
		}
		if _, dup := p.parts[name]; !dup {
			p.parts[name] = f
		}
	}
	return p, nil
}

// part opens a part for reading through a guard: its bytes are counted
// against the limit as they are unpacked, and its XML must be UTF-8 with
// tokens of at most tokenBudget bytes.
func (p *xlsxPackage) part(name string) (*xml.Decoder, *guard, io.Closer, error) {
	f, ok := p.parts[name]
	if !ok {
		return nil, nil, nil, notWorkbook(fmt.Sprintf("the file is not a readable Excel workbook: it has no part %s", name))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, nil, notWorkbook(fmt.Sprintf("the workbook's part %s cannot be unpacked: %v", f.Name, err))
	}
	g := newGuard(&countedPart{rc: rc, f: f, p: p}, false)
	dec := xml.NewDecoder(g)
	dec.CharsetReader = utf8Only
	return dec, g, rc, nil
}

// countedPart counts the bytes of a part as they are unpacked: more than
// the limit, for the part or for every part read so far together, is F006
// whatever the zip declared. A part that archive/zip refuses (longer than
// declared, a failed checksum, damaged data) is F001, unless it really
// unpacks beyond the limit: a zip bomb whose headers under-state its size
// is F006 too (see unpacks).
type countedPart struct {
	rc io.Reader
	f  *zip.File
	p  *xlsxPackage
	n  int64
}

func (c *countedPart) Read(b []byte) (int, error) {
	n, err := c.rc.Read(b)
	c.n += int64(n)
	c.p.unpacked += int64(n)
	if err := c.p.overLimit(c.f, c.n, c.p.unpacked); err != nil {
		return 0, err
	}
	if err != nil && err != io.EOF {
		// Tell a bomb from a damaged part by what the part really holds.
		before := c.p.unpacked - c.n
		size := unpacks(c.f, c.p.limit)
		if over := c.p.overLimit(c.f, size, before+size); over != nil {
			return 0, over
		}
		return n, notWorkbook(fmt.Sprintf("the workbook's part %s is damaged: %v", c.f.Name, err))
	}
	return n, err
}

// overLimit returns F006 when a part of n bytes, or total bytes unpacked
// so far, is over the limit; nil otherwise.
func (p *xlsxPackage) overLimit(f *zip.File, n, total int64) error {
	switch {
	case n > p.limit:
		return &codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook's part %s unpacks to more than the size limit of %d bytes", f.Name, p.limit)}
	case total > p.limit:
		return &codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook's parts unpack to more than the size limit of %d bytes together", p.limit)}
	}
	return nil
}

// unpacks returns how many bytes part f really unpacks to, whatever its
// headers declare, but at most max+1: it unpacks the part again, from its
// raw data, into nothing, and stops there. So memory and time stay
// bounded by the limit. Its bytes are not checked: a part that is damaged
// beyond repair counts as far as it unpacks.
func unpacks(f *zip.File, max int64) int64 {
	raw, err := f.OpenRaw()
	if err != nil {
		return 0
	}
	var r io.Reader
	switch f.Method {
	case zip.Store:
		r = raw
	case zip.Deflate:
		fr := flate.NewReader(raw)
		defer fr.Close()
		r = fr
	default:
		return 0
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(r, max+1))
	return n
}

// token returns the next token of a part, giving the guard a fresh read
// budget for it; failures become the file's failure.
func token(dec *xml.Decoder, g *guard, part string) (xml.Token, error) {
	g.startToken()
	tok, err := dec.Token()
	if err == nil || err == io.EOF {
		return tok, err
	}
	var ce *codes.Error
	switch {
	case errors.As(err, &ce) && ce.Detail == codes.F001 && !strings.HasPrefix(ce.Text, "the workbook"):
		return nil, notWorkbook(fmt.Sprintf("the workbook's part %s is not readable: %s", part, ce.Text))
	case errors.As(err, &ce):
		return nil, ce
	case errors.Is(err, errTokenTooLong):
		return nil, &codes.Error{Detail: codes.F005, Text: fmt.Sprintf("the workbook's part %s holds a text or element over 1 MiB", part)}
	}
	return nil, notWorkbook(fmt.Sprintf("the workbook's part %s is not readable: %v", part, err))
}

// eachToken calls fn for every token of a whole part, read under the
// guard.
func (p *xlsxPackage) eachToken(name string, fn func(xml.Token) error) error {
	dec, g, c, err := p.part(name)
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		tok, err := token(dec, g, p.show(name))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(tok); err != nil {
			return err
		}
	}
}

// walk calls fn for every start element of a whole part.
func (p *xlsxPackage) walk(name string, fn func(xml.StartElement) error) error {
	return p.eachToken(name, func(tok xml.Token) error {
		if se, ok := tok.(xml.StartElement); ok {
			return fn(se)
		}
		return nil
	})
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// relationship is one entry of a relationships part.
type relationship struct{ typ, target string }

// relationships reads the relationships of the part source, by ID, with
// their targets resolved to part names.
func (p *xlsxPackage) relationships(source string) (map[string]relationship, error) {
	dir, base := path.Split(source)
	rels := map[string]relationship{}
	err := p.walk(dir+"_rels/"+base+".rels", func(se xml.StartElement) error {
		if se.Name.Local != "Relationship" || strings.EqualFold(attr(se, "TargetMode"), "External") {
			return nil
		}
		target := strings.ReplaceAll(attr(se, "Target"), `\`, "/")
		if strings.HasPrefix(target, "/") {
			target = path.Clean(target)
		} else {
			target = path.Join("/"+dir, target)
		}
		rels[attr(se, "Id")] = relationship{typ: attr(se, "Type"), target: partName(target)}
		return nil
	})
	return rels, err
}

// open finds the first worksheet, reads the styles and shared strings, and
// opens the worksheet.
func (p *xlsxPackage) open() (*xlsxReader, error) {
	rootRels, err := p.relationships("")
	if err != nil {
		return nil, err
	}
	workbook := ""
	for _, r := range rootRels {
		if strings.HasSuffix(r.typ, relOfficeDocument) {
			workbook = r.target
		}
	}
	if workbook == "" {
		return nil, notWorkbook("the file is not an Excel workbook: its package names no workbook")
	}
	if err := p.checkContentType(workbook); err != nil {
		return nil, err
	}
	x := &xlsxReader{}
	firstID, firstName := "", ""
	err = p.walk(workbook, func(se xml.StartElement) error {
		switch se.Name.Local {
		case "workbookPr":
			v := attr(se, "date1904")
			x.date1904 = v == "1" || v == "true"
		case "sheet":
			if firstID == "" {
				firstName = attr(se, "name")
				for _, a := range se.Attr {
					if a.Name.Local == "id" && a.Name.Space != "" {
						firstID = a.Value
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rels, err := p.relationships(workbook)
	if err != nil {
		return nil, err
	}
	sheet, ok := rels[firstID]
	switch {
	case firstID == "" || !ok:
		return nil, notWorkbook("the workbook has no sheet")
	case !strings.HasSuffix(sheet.typ, relWorksheet):
		return nil, &codes.Error{Detail: codes.F004, Text: fmt.Sprintf("the first sheet %q is not a worksheet (a chart?): the return must be the first sheet of the workbook", firstName)}
	}
	for _, r := range rels {
		switch {
		case strings.HasSuffix(r.typ, relStyles):
			if x.dates, err = p.dateStyles(r.target); err != nil {
				return nil, err
			}
		case strings.HasSuffix(r.typ, relSharedStrings):
			if x.shared, err = p.sharedStrings(r.target); err != nil {
				return nil, err
			}
		}
	}
	x.sheet = p.show(sheet.target)
	if x.dec, x.g, x.closer, err = p.part(sheet.target); err != nil {
		return nil, err
	}
	return x, nil
}

// checkContentType refuses a macro-enabled workbook, whatever its name.
func (p *xlsxPackage) checkContentType(workbook string) error {
	if _, ok := p.parts["[content_types].xml"]; !ok {
		return notWorkbook("the file is not a readable Excel workbook: it has no [Content_Types].xml")
	}
	return p.walk("[content_types].xml", func(se xml.StartElement) error {
		if se.Name.Local == "Override" && partName(attr(se, "PartName")) == workbook &&
			strings.Contains(strings.ToLower(attr(se, "ContentType")), "macroenabled") {
			return &codes.Error{Detail: codes.F002, Text: "the workbook is macro-enabled: " + saveHint}
		}
		return nil
	})
}

// dateStyles reads which cell styles (cellXfs, by index) format a number
// as a date.
func (p *xlsxPackage) dateStyles(name string) ([]bool, error) {
	custom := map[string]string{}
	var dates []bool
	inXfs := false
	err := p.eachToken(name, func(tok xml.Token) error {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "numFmt":
				custom[attr(t, "numFmtId")] = attr(t, "formatCode")
			case "cellXfs":
				inXfs = true
			case "xf":
				if inXfs {
					id := attr(t, "numFmtId")
					code, ok := custom[id]
					if !ok {
						n, _ := strconv.Atoi(id)
						code = builtinDate(n)
					}
					dates = append(dates, isDateFormat(code))
				}
			}
		case xml.EndElement:
			if t.Name.Local == "cellXfs" {
				inXfs = false
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dates, nil
}

// builtinDate returns a date format code for the built-in number formats
// that show a date (ECMA-376 18.8.30, and the East Asian ones Excel maps
// to dates), "" for the others (times of day among them).
func builtinDate(id int) string {
	switch {
	case id >= 14 && id <= 17, id == 22, id >= 27 && id <= 36, id >= 50 && id <= 58:
		return "yyyy-mm-dd"
	}
	return ""
}

// isDateFormat reports whether a number format code shows a date: once
// quoted text, escaped characters and bracketed parts ([Red], [$-809]) are
// left out, it has a day or year, or a month without hours or seconds
// (m alone in h:mm is minutes).
func isDateFormat(code string) bool {
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		switch c := code[i]; c {
		case '"':
			for i++; i < len(code) && code[i] != '"'; i++ {
			}
		case '\\', '_', '*':
			i++
		case '[':
			for i++; i < len(code) && code[i] != ']'; i++ {
			}
		default:
			b.WriteByte(lowerASCII(c))
		}
	}
	s := b.String()
	if strings.ContainsAny(s, "dy") {
		return true
	}
	return strings.Contains(s, "m") && !strings.ContainsAny(s, "hs")
}

// sharedStrings reads the shared string table: each item's text, its runs
// joined, phonetic guides left out.
func (p *xlsxPackage) sharedStrings(name string) ([]string, error) {
	var out []string
	var text strings.Builder
	depthSI, inT, inPh := 0, false, 0
	err := p.eachToken(name, func(tok xml.Token) error {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				depthSI++
				text.Reset()
			case "t":
				inT = true
			case "rPh":
				inPh++
			}
		case xml.CharData:
			if depthSI > 0 && inT && inPh == 0 {
				if text.Len()+len(t) > maxField {
					return &codes.Error{Detail: codes.F005, Text: fmt.Sprintf("the workbook's part %s holds a text over 1 MiB", p.show(name))}
				}
				text.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				depthSI--
				out = append(out, text.String())
			case "t":
				inT = false
			case "rPh":
				inPh--
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// cell is one cell of a row as read.
type cell struct {
	col     int    // from 0
	ref     string // such as "D7"
	text    string
	noValue bool // a formula without a cached value
	isError bool // an Excel error value, its text the error (#N/A)
	number  bool // a number not formatted as a date, its text its digits
}

// readHeader finds the first non-empty row and maps its names onto the
// columns, with the rules of a CSV header.
func (x *xlsxReader) readHeader(kind Kind) error {
	for {
		line, cells, err := x.nextRow()
		if err == io.EOF {
			return &codes.Error{Detail: codes.F004, Text: "the first worksheet is empty: a return starts with a header row"}
		}
		if err != nil {
			return err
		}
		if blankCells(cells) {
			continue
		}
		var names []string
		for _, c := range cells {
			if c.noValue {
				return &codes.Error{Detail: codes.F004, Line: line, Text: fmt.Sprintf("header cell %s is a formula without a saved value", c.ref)}
			}
			for len(names) < c.col {
				names = append(names, "")
			}
			names = append(names, c.text)
		}
		for len(names) > 0 && strings.TrimSpace(names[len(names)-1]) == "" {
			names = names[:len(names)-1]
		}
		var h csvReader // the CSV header rules, in one place
		if err := h.readHeader(names, line, kind); err != nil {
			return err
		}
		x.index, x.width = h.index, h.width
		return nil
	}
}

// Next implements Reader.
func (x *xlsxReader) Next() (Row, error) {
	if x.err != nil {
		return Row{}, x.err
	}
	row, err := x.next()
	if err != nil {
		x.err = err
		x.closer.Close()
		return Row{}, err
	}
	return row, nil
}

func (x *xlsxReader) next() (Row, error) {
	for {
		line, cells, err := x.nextRow()
		if err != nil {
			return Row{}, err
		}
		if blankCells(cells) {
			continue
		}
		row := Row{Line: line}
		for _, c := range cells {
			col := -1
			for i, at := range x.index {
				if at == c.col {
					col = i
				}
			}
			if col < 0 {
				if c.noValue || strings.TrimSpace(c.text) != "" {
					return Row{}, &codes.Error{Detail: codes.F005, Line: line,
						Text: fmt.Sprintf("cell %s is not empty but its column has no name in the header", c.ref)}
				}
				continue
			}
			*row.cell(column(col)) = c.text
			switch {
			case c.noValue:
				row.Cells[col] = Cell{Ref: c.ref, Kind: CellNoValue}
			case c.isError:
				row.Cells[col] = Cell{Ref: c.ref, Kind: CellError}
			case c.number && dateColumn(column(col)):
				row.Cells[col] = Cell{Ref: c.ref, Kind: CellNumber}
			}
		}
		return row, nil
	}
}

// blankCells reports whether a row has nothing in it: no cell with text
// other than white space, and no formula without a value.
func blankCells(cells []cell) bool {
	for _, c := range cells {
		if c.noValue || strings.TrimSpace(c.text) != "" {
			return false
		}
	}
	return true
}

// nextRow reads the next row element of the worksheet: its number and its
// cells in column order (empty ones may be left out). io.EOF after the
// last.
func (x *xlsxReader) nextRow() (int, []cell, error) {
	for {
		tok, err := token(x.dec, x.g, x.sheet)
		if err == io.EOF {
			return 0, nil, notWorkbook(fmt.Sprintf("the workbook's part %s ends before its rows do", x.sheet))
		}
		if err != nil {
			return 0, nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "row" {
				return x.readRow(t)
			}
		case xml.EndElement:
			if t.Name.Local == "sheetData" {
				return 0, nil, io.EOF
			}
		}
	}
}

// readRow reads a row element whose start is se.
func (x *xlsxReader) readRow(se xml.StartElement) (int, []cell, error) {
	line := x.lastRow + 1
	if r := attr(se, "r"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			return 0, nil, x.malformed(fmt.Sprintf("a row is numbered %q", r))
		}
		line = n
	}
	if line <= x.lastRow {
		return 0, nil, x.malformed(fmt.Sprintf("row %d comes after row %d", line, x.lastRow))
	}
	x.lastRow = line
	var cells []cell
	for {
		tok, err := token(x.dec, x.g, x.sheet)
		if err == io.EOF {
			return 0, nil, x.malformed(fmt.Sprintf("row %d is not closed", line))
		}
		if err != nil {
			return 0, nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "c" {
				if err := x.dec.Skip(); err != nil {
					return 0, nil, x.malformed(err.Error())
				}
				continue
			}
			col := 0
			if len(cells) > 0 {
				col = cells[len(cells)-1].col + 1
			}
			c, err := x.readCell(t, line, col)
			if err != nil {
				return 0, nil, err
			}
			if len(cells) > 0 && c.col <= cells[len(cells)-1].col {
				return 0, nil, x.malformed(fmt.Sprintf("cell %s comes after cell %s in row %d", c.ref, cells[len(cells)-1].ref, line))
			}
			cells = append(cells, c)
		case xml.EndElement:
			if t.Name.Local == "row" {
				return line, cells, nil
			}
		}
	}
}

func (x *xlsxReader) malformed(what string) error {
	return notWorkbook(fmt.Sprintf("the workbook's part %s is not readable: %s", x.sheet, what))
}

// readCell reads a c element whose start is se, in row line; col is its
// column when it has no reference.
func (x *xlsxReader) readCell(se xml.StartElement, line, col int) (cell, error) {
	c := cell{col: col}
	if r := attr(se, "r"); r != "" {
		n, row, ok := parseCellRef(r)
		if !ok || row != line {
			return c, x.malformed(fmt.Sprintf("row %d has a cell named %q", line, r))
		}
		c.col = n
		if !strings.Contains(r, "$") && strings.ToUpper(r) == r {
			c.ref = r // as written: no need to make it again
		}
	}
	if c.ref == "" {
		c.ref = cellRef(c.col, line)
	}
	typ, style := attr(se, "t"), attr(se, "s")
	var value, inline strings.Builder
	hasValue, hasFormula, inIS, inT, inPh := false, false, false, false, 0
	inV := false
	for {
		tok, err := token(x.dec, x.g, x.sheet)
		if err == io.EOF {
			return c, x.malformed(fmt.Sprintf("cell %s is not closed", c.ref))
		}
		if err != nil {
			return c, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "v":
				hasValue, inV = true, true
			case "f":
				hasFormula = true
			case "is":
				inIS, hasValue = true, true
			case "t":
				inT = true
			case "rPh":
				inPh++
			}
		case xml.CharData:
			switch {
			case inV:
				value.Write(t)
			case inIS && inT && inPh == 0:
				inline.Write(t)
			}
			if value.Len() > maxField || inline.Len() > maxField {
				return c, &codes.Error{Detail: codes.F005, Line: line, Text: fmt.Sprintf("cell %s holds a text over 1 MiB", c.ref)}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "c":
				// A formula's cached number, date, boolean or error is
				// never empty: an empty <v> (as openpyxl writes) is no
				// value. An empty cached text is a formula's "".
				if hasFormula && (!hasValue || typ != "str" && typ != "inlineStr" && strings.TrimSpace(value.String()) == "") {
					c.noValue = true
					return c, nil
				}
				text, number, err := x.cellText(typ, style, value.String(), inline.String(), c.ref, line)
				c.text, c.number, c.isError = text, number, typ == "e"
				return c, err
			case "v":
				inV = false
			case "is":
				inIS = false
			case "t":
				inT = false
			case "rPh":
				inPh--
			}
		}
	}
}

// cellText is the text the hub reads in a cell of type typ and style
// (returns.md, XLSX): text as typed; a number formatted as a date as
// YYYY-MM-DD; any other number as its digits, without an exponent or a
// trailing .0; TRUE or FALSE; an error value (#N/A) as shown (its row is
// rejected: Check). number says the cell is a number not formatted as a
// date.
func (x *xlsxReader) cellText(typ, style, v, inline, ref string, line int) (text string, number bool, err error) {
	switch typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 || i >= len(x.shared) {
			return "", false, x.malformed(fmt.Sprintf("cell %s names shared string %q, which the workbook does not have", ref, v))
		}
		return x.shared[i], false, nil
	case "inlineStr":
		return inline, false, nil
	case "str", "e":
		return v, false, nil
	case "b":
		if strings.TrimSpace(v) == "1" {
			return "TRUE", false, nil
		}
		return "FALSE", false, nil
	case "d": // an ISO 8601 date (strict workbooks)
		if len(v) >= 10 {
			if d, err := caldate.ParseISO(v[:10]); err == nil {
				return d.String(), false, nil
			}
		}
		return v, false, nil
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false, x.malformed(fmt.Sprintf("cell %s holds the number %q", ref, v))
	}
	s := 0 // the default style
	if style != "" {
		s, _ = strconv.Atoi(style)
	}
	isDate := s >= 0 && s < len(x.dates) && x.dates[s]
	if isDate {
		if d, ok := excelDate(f, x.date1904); ok {
			return d, false, nil
		}
	}
	return strconv.FormatFloat(f, 'f', -1, 64), !isDate, nil
}

// excelDate returns the calendar date of an Excel date serial number
// (its time of day dropped) as YYYY-MM-DD, or false outside Excel's dates.
// In the 1900 date system day 1 is 1900-01-01 and day 60 is 29 February
// 1900, a day that never was (Excel keeps Lotus 1-2-3's leap year bug):
// it comes back as "1900-02-29", which no date check accepts. In the 1904
// system day 0 is 1904-01-01.
func excelDate(serial float64, date1904 bool) (string, bool) {
	if serial < 0 || serial >= 2958466 { // after 9999-12-31
		return "", false
	}
	day := int(math.Floor(serial))
	switch {
	case date1904:
		return caldate.Of(1904, 1, 1).AddDays(day).String(), true
	case day < 1:
		return "", false
	case day < 60:
		return caldate.Of(1899, 12, 31).AddDays(day).String(), true
	case day == 60:
		return "1900-02-29", true
	}
	return caldate.Of(1899, 12, 30).AddDays(day).String(), true
}

// parseCellRef reads a cell reference such as "D7" (or "$D$7"): its
// column from 0 and its row.
func parseCellRef(ref string) (col, row int, ok bool) {
	ref = strings.ReplaceAll(ref, "$", "")
	i := 0
	for i < len(ref) && i < 3 && (ref[i] >= 'A' && ref[i] <= 'Z' || ref[i] >= 'a' && ref[i] <= 'z') {
		col = col*26 + int(lowerASCII(ref[i])-'a') + 1
		i++
	}
	if i == 0 || i == len(ref) {
		return 0, 0, false
	}
	row, err := strconv.Atoi(ref[i:])
	if err != nil || row < 1 || ref[i] == '+' || ref[i] == '-' {
		return 0, 0, false
	}
	return col - 1, row, true
}

// cellRef names the cell of column col (from 0) and row, such as "D7".
func cellRef(col, row int) string {
	name := ""
	for col++; col > 0; col = (col - 1) / 26 {
		name = string(rune('A'+(col-1)%26)) + name
	}
	return name + strconv.Itoa(row)
}
