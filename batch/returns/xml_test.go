package returns_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/returns"
	"cpis/store/codes"
)

const (
	fullXML  = "CPIS_841_FULL_20261121.xml"
	deltaXML = "CPIS_841_DELTA_20261121.xml"
	root     = `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="FULL" extractDate="2026-11-21">`
)

func TestXMLReader(t *testing.T) {
	f005 := func(plan int, text string) *codes.Error {
		return &codes.Error{Detail: codes.F005, Line: plan, Text: text}
	}
	f002 := func(text string) *codes.Error { return &codes.Error{Detail: codes.F002, Text: text} }
	plan1 := `<Plan><NHSNumber>9990276579</NHSNumber><PlanType>CPP</PlanType><StartDate>2026-03-02</StartDate><LocalId>C-1</LocalId></Plan>`
	row1 := returns.Row{Line: 1, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-1"}
	cases := []struct {
		name string
		file string // default fullXML
		in   string
		want result
	}{
		{
			name: "file under testdata",
			in:   readFixture(t, "full.xml"),
			want: result{Rows: []returns.Row{
				{Line: 1, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-10442", FamilyName: "O'Brien & Sons", GivenName: " Amy ", DateOfBirth: "2015-04-01"},
				{Line: 2, NHSNumber: "999 027 5831", PlanType: "UCPP", StartDate: "2/3/2026", DueDate: "2026-12-01", LocalID: "C-<2>", FamilyName: "Zoë"},
				{Line: 3},
			}},
		},
		{
			name: "prefixed namespace, kind in lower case, BOM",
			in: "\uFEFF<r:CPISReturn xmlns:r=\"urn:cpis:return:1\" la=\"841\" kind=\"full\" extractDate=\"2026-11-21\">" +
				"<r:Plan><r:LocalId>C-1</r:LocalId><r:Action/></r:Plan></r:CPISReturn>",
			want: result{Rows: []returns.Row{{Line: 1, LocalID: "C-1"}}},
		},
		{
			name: "DELTA with action",
			file: deltaXML,
			in: `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="DELTA" extractDate="2026-11-21">` +
				`<Plan><Action>DELETE</Action><NHSNumber>9990276579</NHSNumber><PlanType>LAC</PlanType></Plan></CPISReturn>`,
			want: result{Rows: []returns.Row{{Line: 1, NHSNumber: "9990276579", PlanType: "LAC", Action: "DELETE"}}},
		},
		{
			name: "no Plan",
			in:   root + "</CPISReturn>",
			want: result{},
		},
		{
			name: "namespace missing",
			in:   `<CPISReturn la="841" kind="FULL" extractDate="2026-11-21"></CPISReturn>`,
			want: result{Err: f002(`the XML root element is <CPISReturn> (no namespace): it must be <CPISReturn xmlns="urn:cpis:return:1">`)},
		},
		{
			name: "another root",
			in:   `<Return xmlns="urn:cpis:return:1"/>`,
			want: result{Err: f002(`the XML root element is <Return>: it must be <CPISReturn xmlns="urn:cpis:return:1">`)},
		},
		{
			name: "empty file",
			in:   "",
			want: result{Err: f002(`the file has no XML root element: it must be <CPISReturn xmlns="urn:cpis:return:1">`)},
		},
		{
			name: "LA differs",
			in:   `<CPISReturn xmlns="urn:cpis:return:1" la="842" kind="FULL" extractDate="2026-11-21"/>`,
			want: result{Err: f002(`the root attribute la="842" does not match the file name's LA 841`)},
		},
		{
			name: "kind differs",
			in:   `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="DELTA" extractDate="2026-11-21"/>`,
			want: result{Err: f002(`the root attribute kind="DELTA" does not match the file name's kind FULL`)},
		},
		{
			name: "extract date differs",
			in:   `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="FULL" extractDate="2026-11-20"/>`,
			want: result{Err: f002(`the root attribute extractDate="2026-11-20" does not match the file name's extract date 2026-11-21`)},
		},
		{
			name: "extract date in another form",
			in:   `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="FULL" extractDate="21/11/2026"/>`,
			want: result{Err: f002(`the root attribute extractDate="21/11/2026" is not a date in the form YYYY-MM-DD`)},
		},
		{
			name: "attribute missing",
			in:   `<CPISReturn xmlns="urn:cpis:return:1" la="841" extractDate="2026-11-21"/>`,
			want: result{Err: f002(`the root element has no kind attribute (the file name says kind="FULL")`)},
		},
		{
			name: "unknown element in a Plan",
			in:   root + plan1 + "\n<Plan><NHSNumber>9990275831</NHSNumber><Postcode>AB1 2CD</Postcode></Plan></CPISReturn>",
			want: result{
				Rows: []returns.Row{row1},
				Err:  &codes.Error{Detail: codes.F004, Line: 2, Text: "unknown element <Postcode> in Plan 2 (XML line 2)"},
			},
		},
		{
			name: "known element in no namespace",
			in:   root + `<Plan><NHSNumber xmlns="">9990275831</NHSNumber></Plan></CPISReturn>`,
			want: result{Err: &codes.Error{Detail: codes.F004, Line: 1, Text: "unknown element <NHSNumber> (no namespace) in Plan 1 (XML line 1)"}},
		},
		{
			name: "unknown element in the root",
			in:   root + "\n" + plan1 + "\n<Person/></CPISReturn>",
			want: result{
				Rows: []returns.Row{row1},
				Err:  &codes.Error{Detail: codes.F004, Text: "XML line 3: unknown element <Person> inside <CPISReturn> (only <Plan> may appear there)"},
			},
		},
		{
			name: "repeated element",
			in:   root + `<Plan><NHSNumber>9990276579</NHSNumber><PlanType>CPP</PlanType><NHSNumber>9990275831</NHSNumber></Plan></CPISReturn>`,
			want: result{Err: f005(1, "XML line 1: element <NHSNumber> appears twice in Plan 1")},
		},
		{
			name: "element inside a field",
			in:   root + `<Plan><NHSNumber><b>9990276579</b></NHSNumber></Plan></CPISReturn>`,
			want: result{Err: f005(1, "XML line 1: element <b> inside <NHSNumber> in Plan 1: a field holds only text")},
		},
		{
			name: "text between Plans",
			in:   root + plan1 + "stray</CPISReturn>",
			want: result{Rows: []returns.Row{row1}, Err: f005(0, `XML line 1: text "stray" between Plans`)},
		},
		{
			name: "a second root",
			in:   root + plan1 + "</CPISReturn>" + root + "</CPISReturn>",
			want: result{Rows: []returns.Row{row1}, Err: f005(0, "XML line 1: element <CPISReturn> after the end of <CPISReturn>")},
		},
		{
			name: "mismatched end tag",
			in:   root + "\n<Plan><NHSNumber>9990276579</PlanType></Plan></CPISReturn>",
			want: result{Err: f005(1, "XML line 2: element <NHSNumber> closed by </PlanType>")},
		},
		{
			name: "cut short",
			in:   root + plan1 + "<Plan><NHSNumber>999",
			want: result{Rows: []returns.Row{row1}, Err: f005(2, "XML line 1: unexpected EOF")},
		},
		{
			name: "billion laughs",
			in: `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
` + root + `<Plan><FamilyName>&lol2;</FamilyName></Plan></CPISReturn>`,
			want: result{Err: f005(0, "XML line 2: a DTD or declaration (<!DOCTYPE ...>) is not allowed in a return")},
		},
		{
			name: "external entity",
			in: `<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + root +
				`<Plan><FamilyName>&xxe;</FamilyName></Plan></CPISReturn>`,
			want: result{Err: f005(0, "XML line 1: a DTD or declaration (<!DOCTYPE ...>) is not allowed in a return")},
		},
		{
			name: "directive inside a Plan",
			in:   root + "<Plan><!ENTITY x \"y\"></Plan></CPISReturn>",
			want: result{Err: f005(1, "XML line 1: a DTD or declaration (<!ENTITY ...>) is not allowed in a return")},
		},
		{
			name: "undefined entity",
			in:   root + "<Plan><FamilyName>&lol;</FamilyName></Plan></CPISReturn>",
			want: result{Err: f005(1, "XML line 1: invalid character entity &lol;")},
		},
		{
			name: "character reference to NUL",
			in:   root + "<Plan><FamilyName>&#0;</FamilyName></Plan></CPISReturn>",
			want: result{Err: f005(1, "XML line 1: illegal character code U+0000")},
		},
		{
			name: "NUL byte",
			in:   root + "\n\n<Plan><FamilyName>a\x00</FamilyName></Plan></CPISReturn>",
			want: result{Err: &codes.Error{Detail: codes.F001, Text: "XML line 3: the file holds a NUL byte: it must be UTF-8 text"}},
		},
		{
			name: "invalid UTF-8",
			in:   root + "<Plan><FamilyName>Ren\xe9e</FamilyName></Plan></CPISReturn>",
			want: result{Err: &codes.Error{Detail: codes.F001, Text: "XML line 1: the file is not valid UTF-8 text (byte 0xE9)"}},
		},
		{
			name: "declared in another encoding",
			in:   `<?xml version="1.0" encoding="ISO-8859-1"?>` + root + "</CPISReturn>",
			want: result{Err: &codes.Error{Detail: codes.F001, Text: `the XML declaration names the encoding "ISO-8859-1": a return must be UTF-8`}},
		},
		{
			name: "field over 1 MiB",
			in:   root + "<Plan><FamilyName>" + strings.Repeat("a", 1<<20+1) + "</FamilyName></Plan></CPISReturn>",
			want: result{Err: f005(1, "XML line 1: element <FamilyName> in Plan 1 is longer than 1 MiB")},
		},
		{
			name: "field of 1 MiB in pieces",
			in: root + "<Plan><FamilyName>" + strings.Repeat("a", 1<<19) + "<!-- c -->" +
				strings.Repeat("b", 1<<19) + "</FamilyName></Plan></CPISReturn>",
			want: result{Rows: []returns.Row{{Line: 1, FamilyName: strings.Repeat("a", 1<<19) + strings.Repeat("b", 1<<19)}}},
		},
		{
			name: "comment over the budget",
			in:   root + "<Plan><!--" + strings.Repeat("-x", 1<<20) + "--></Plan></CPISReturn>",
			want: result{Err: f005(1, "XML line 1: an element, text or comment is longer than 1 MiB")},
		},
		{
			name: "invalid UTF-8 further on ranks before a structure problem",
			in:   root + "<Plan><Colour/></Plan>" + strings.Repeat(plan1, 1000) + "<Plan><FamilyName>\xff</FamilyName></Plan></CPISReturn>",
			want: result{Err: &codes.Error{Detail: codes.F001, Text: "XML line 1: the file is not valid UTF-8 text (byte 0xFF)"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := c.file
			if file == "" {
				file = fullXML
			}
			got := readAll(t, file, strings.NewReader(c.in))
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("read (-want +got):\n%s", diff)
			}
		})
	}
}

// A failure of the caller's reader comes back wrapped, also when a root or
// element problem was found before it.
func TestXMLSourceError(t *testing.T) {
	errLimit := errors.New("over the size limit")
	n, err := returns.ParseName(fullXML)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		root + "<Plan><NHSNumber>999",
		root + "<Plan><Colour/></Plan><Plan>",
		`<CPISReturn la="841"><Plan>`,
	} {
		rd, err := returns.NewReader(&failingReader{data: []byte(in), err: errLimit}, n)
		for err == nil {
			_, err = rd.Next()
		}
		if !errors.Is(err, errLimit) {
			t.Errorf("reading %q: %v, want %v wrapped", in, err, errLimit)
		}
	}
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "returns", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkXMLReader reads a FULL return of 10,000 plans written as the
// generator and most LA systems write them: one element a line, indented.
//
//	go test -run '^$' -bench XMLReader ./batch/returns
func BenchmarkXMLReader(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root + "\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "  <Plan>\n    <NHSNumber>9990276579</NHSNumber>\n    <PlanType>CPP</PlanType>\n    <StartDate>2026-03-02</StartDate>\n"+
			"    <LocalId>C-%05d</LocalId>\n    <FamilyName>Smith &amp; Jones</FamilyName>\n    <GivenName>Amy</GivenName>\n    <DateOfBirth>2015-04-01</DateOfBirth>\n  </Plan>\n", i)
	}
	sb.WriteString("</CPISReturn>\n")
	benchmarkReader(b, fullXML, sb.String(), 10000)
}
