package returns

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"cpis/store/caldate"
	"cpis/store/codes"
)

// Namespace is the XML namespace every element of an XML return is in.
const Namespace = "urn:cpis:return:1"

// xmlReader reads an XML return one Plan at a time with encoding/xml's
// token stream. Depth stays at most three (root, Plan, field): anything
// deeper fails at once.
type xmlReader struct {
	g     *guard
	dec   *xml.Decoder
	plan  int    // ordinal of the Plan being read or last read
	in    bool   // inside a Plan
	ended bool   // the root element is closed
	text  []byte // the field being read
	err   error  // final failure, io.EOF included
}

var _ Reader = (*xmlReader)(nil)

func newXMLReader(g *guard, n Name) (*xmlReader, error) {
	dec := xml.NewDecoder(g)
	dec.CharsetReader = utf8Only // encoding/xml expands no entity but the five predefined ones
	x := &xmlReader{g: g, dec: dec}
	for {
		tok, err := x.token()
		if err == io.EOF {
			return nil, &codes.Error{Detail: codes.F002,
				Text: fmt.Sprintf("the file has no XML root element: it must be <CPISReturn xmlns=%q>", Namespace)}
		}
		if err != nil {
			return nil, settle(g, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := x.root(t, n); err != nil {
				return nil, settle(g, err)
			}
			return x, nil
		case xml.CharData:
			if err := x.onlySpace(t, "before the root element"); err != nil {
				return nil, settle(g, err)
			}
		}
	}
}

// root checks the root element against the file name (returns.md, XML).
func (x *xmlReader) root(t xml.StartElement, n Name) error {
	bad := func(format string, args ...any) error {
		return &codes.Error{Detail: codes.F002, Text: fmt.Sprintf(format, args...)}
	}
	if t.Name.Local != "CPISReturn" || t.Name.Space != Namespace {
		return bad("the XML root element is %s: it must be <CPISReturn xmlns=%q>", element(t.Name), Namespace)
	}
	attrs := map[string]string{}
	for _, a := range t.Attr {
		if a.Name.Space != "" {
			continue // xmlns and attributes of other vocabularies
		}
		switch a.Name.Local {
		case "la", "kind", "extractDate":
			if _, dup := attrs[a.Name.Local]; dup {
				return bad("the root attribute %s appears twice", a.Name.Local)
			}
			attrs[a.Name.Local] = a.Value
		}
	}
	for _, want := range []struct{ attr, name, value string }{
		{"la", "LA", n.LA},
		{"kind", "kind", string(n.Kind)},
		{"extractDate", "extract date", n.Extract.String()},
	} {
		v, ok := attrs[want.attr]
		if !ok {
			return bad("the root element has no %s attribute (the file name says %s=%q)", want.attr, want.attr, want.value)
		}
		same := v == want.value
		switch want.attr {
		case "kind":
			same = equalFoldASCII(v, want.value)
		case "extractDate":
			d, err := caldate.ParseISO(v)
			if err != nil {
				return bad("the root attribute extractDate=%q is not a date in the form YYYY-MM-DD", v)
			}
			same = d == n.Extract
		}
		if !same {
			return bad("the root attribute %s=%q does not match the file name's %s %s", want.attr, v, want.name, want.value)
		}
	}
	return nil
}

// Next implements Reader.
func (x *xmlReader) Next() (Row, error) {
	if x.err != nil {
		return Row{}, x.err
	}
	row, err := x.next()
	if err != nil {
		if err != io.EOF {
			err = settle(x.g, err)
		}
		x.err = err
		return Row{}, err
	}
	return row, nil
}

func (x *xmlReader) next() (Row, error) {
	for {
		tok, err := x.token()
		if err == io.EOF && !x.ended {
			// encoding/xml reports unclosed elements itself; be sure anyway.
			return Row{}, x.malformed("the file ends before </CPISReturn>")
		}
		if err != nil {
			return Row{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if x.ended {
				return Row{}, x.malformed(fmt.Sprintf("element %s after the end of <CPISReturn>", element(t.Name)))
			}
			if t.Name.Local != "Plan" || t.Name.Space != Namespace {
				return Row{}, &codes.Error{Detail: codes.F004,
					Text: fmt.Sprintf("XML line %d: unknown element %s inside <CPISReturn> (only <Plan> may appear there)", x.xmlLine(), element(t.Name))}
			}
			return x.readPlan()
		case xml.EndElement:
			x.ended = true // encoding/xml checks it closes the root
		case xml.CharData:
			where := "between Plans"
			if x.ended {
				where = "after </CPISReturn>"
			}
			if err := x.onlySpace(t, where); err != nil {
				return Row{}, err
			}
		}
	}
}

// readPlan reads one Plan after its start tag.
func (x *xmlReader) readPlan() (Row, error) {
	x.plan++
	x.in = true
	defer func() { x.in = false }()
	row := Row{Line: x.plan}
	var seen [numColumns]bool
	for {
		tok, err := x.token()
		if err != nil {
			return Row{}, x.eofIsMalformed(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			col, ok := xmlColumn(t.Name)
			if !ok {
				return Row{}, &codes.Error{Detail: codes.F004, Line: x.plan,
					Text: fmt.Sprintf("unknown element %s in Plan %d (XML line %d)", element(t.Name), x.plan, x.xmlLine())}
			}
			if seen[col] {
				return Row{}, x.malformed(fmt.Sprintf("element %s appears twice in Plan %d", element(t.Name), x.plan))
			}
			seen[col] = true
			text, err := x.readField(t.Name)
			if err != nil {
				return Row{}, err
			}
			*row.cell(col) = text
		case xml.EndElement:
			return row, nil
		case xml.CharData:
			// The place is named only for text that is not space: this runs
			// between every two fields.
			if len(bytes.TrimSpace(t)) > 0 {
				return Row{}, x.onlySpace(t, fmt.Sprintf("in Plan %d outside its elements", x.plan))
			}
		}
	}
}

// readField reads the text of one field element after its start tag.
// Comments and processing instructions inside it are skipped.
func (x *xmlReader) readField(name xml.Name) (string, error) {
	x.text = x.text[:0]
	for {
		tok, err := x.token()
		if err != nil {
			return "", x.eofIsMalformed(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(x.text)+len(t) > maxField {
				return "", x.malformed(fmt.Sprintf("element %s in Plan %d is longer than 1 MiB", element(name), x.plan))
			}
			x.text = append(x.text, t...)
		case xml.StartElement:
			return "", x.malformed(fmt.Sprintf("element %s inside %s in Plan %d: a field holds only text", element(t.Name), element(name), x.plan))
		case xml.EndElement:
			return string(x.text), nil
		}
	}
}

// token returns the next token that matters, giving the decoder a fresh
// read budget. It refuses every directive (DOCTYPE, ENTITY) before anything
// in it is used, and skips comments and processing instructions (the XML
// declaration among them; encoding/xml checks its version and encoding).
func (x *xmlReader) token() (xml.Token, error) {
	for {
		x.g.startToken()
		start := x.xmlLine() // where the token begins: a DTD spans lines
		tok, err := x.dec.Token()
		if err != nil {
			return nil, x.failure(err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			word, _, _ := strings.Cut(strings.TrimSpace(string(t)), " ")
			return nil, x.malformedAt(start, fmt.Sprintf("a DTD or declaration (<!%.20s ...>) is not allowed in a return", word))
		case xml.Comment, xml.ProcInst:
			continue
		}
		return tok, nil
	}
}

// failure turns an error of encoding/xml into the file's failure.
func (x *xmlReader) failure(err error) error {
	var ce *codes.Error
	var se *sourceError
	var syn *xml.SyntaxError
	switch {
	case err == io.EOF, errors.As(err, &ce), errors.As(err, &se):
		return err
	case errors.Is(err, errTokenTooLong):
		return x.malformed("an element, text or comment is longer than 1 MiB")
	case errors.As(err, &syn):
		// encoding/xml's messages name the fault, e.g.
		// "invalid character entity &lol1;", "unexpected EOF".
		return x.malformed(strings.TrimPrefix(syn.Msg, "xml: "))
	}
	return x.malformed(strings.TrimPrefix(err.Error(), "xml: "))
}

// malformed returns an F005 at the current position.
func (x *xmlReader) malformed(what string) error { return x.malformedAt(x.xmlLine(), what) }

// malformedAt returns an F005 naming XML line line.
func (x *xmlReader) malformedAt(line int, what string) error {
	e := &codes.Error{Detail: codes.F005, Text: fmt.Sprintf("XML line %d: %s", line, what)}
	if x.in {
		e.Line = x.plan
	}
	return e
}

// eofIsMalformed makes an end of input inside a Plan a structure failure.
func (x *xmlReader) eofIsMalformed(err error) error {
	if err == io.EOF {
		return x.malformed("the file ends inside a Plan")
	}
	return err
}

func (x *xmlReader) onlySpace(t xml.CharData, where string) error {
	if s := bytes.TrimSpace(t); len(s) > 0 {
		return x.malformed(fmt.Sprintf("text %s %s", show(string(s)), where))
	}
	return nil
}

func (x *xmlReader) xmlLine() int {
	line, _ := x.dec.InputPos()
	return line
}

func xmlColumn(name xml.Name) (column, bool) {
	if name.Space != Namespace {
		return 0, false
	}
	for col, n := range columnNames {
		if name.Local == n.xml {
			return column(col), true
		}
	}
	return 0, false
}

// element formats an element name for a message, with its namespace when
// it is not the return's.
func element(name xml.Name) string {
	if name.Space == Namespace {
		return "<" + name.Local + ">"
	}
	if name.Space == "" {
		return fmt.Sprintf("<%s> (no namespace)", name.Local)
	}
	return fmt.Sprintf("<%s> (namespace %q)", name.Local, name.Space)
}

// utf8Only is the decoder's CharsetReader: a return is UTF-8, so an XML
// declaration naming another encoding is not UTF-8 text (F001).
func utf8Only(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	}
	return nil, &codes.Error{Detail: codes.F001,
		Text: fmt.Sprintf("the XML declaration names the encoding %q: a return must be UTF-8", label)}
}
