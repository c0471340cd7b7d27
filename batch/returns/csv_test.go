package returns_test

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/returns"
	"cpis/store/codes"
)

const (
	fullCSV  = "CPIS_841_FULL_20261121.csv"
	deltaCSV = "CPIS_841_DELTA_20261121.csv"
)

func TestCSVReader(t *testing.T) {
	const header = "nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth,action\n"
	f005 := func(line int, text string) *codes.Error {
		return &codes.Error{Detail: codes.F005, Line: line, Text: text}
	}
	f004 := func(line int, text string) *codes.Error {
		return &codes.Error{Detail: codes.F004, Line: line, Text: text}
	}
	cases := []struct {
		name string
		file string // default fullCSV
		in   string
		want result
	}{
		{
			name: "every column",
			in: header +
				"9990276579,CPP,2026-03-02,,,C-10442,Smith,Amy,2015-04-01,\n" +
				"999 027 5831, ucpp ,2/3/2026,,1/12/2026,C-2, , ,,\n",
			want: result{Rows: []returns.Row{
				{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-10442", FamilyName: "Smith", GivenName: "Amy", DateOfBirth: "2015-04-01"},
				{Line: 3, NHSNumber: "999 027 5831", PlanType: " ucpp ", StartDate: "2/3/2026", DueDate: "1/12/2026", LocalID: "C-2", FamilyName: " ", GivenName: " "},
			}},
		},
		{
			name: "BOM, CRLF, header in any case and order, optional columns absent",
			in:   "\uFEFF Local_ID ,START_DATE,Plan_Type,NHS_Number\r\nC-1,2026-03-02,LAC,9990276579\r\nC-2,2026-03-03,CPP,9990275831",
			want: result{Rows: []returns.Row{
				{Line: 2, NHSNumber: "9990276579", PlanType: "LAC", StartDate: "2026-03-02", LocalID: "C-1"},
				{Line: 3, NHSNumber: "9990275831", PlanType: "CPP", StartDate: "2026-03-03", LocalID: "C-2"},
			}},
		},
		{
			name: "quoting, a field over two lines, blank lines",
			in: "nhs_number,plan_type,start_date,local_id,family_name\n" +
				"\n" +
				"9990276579,CPP,2026-03-02,\"C,1\",\"O\"\"Brien\"\n" +
				"\r\n" +
				"9990275831,CPP,2026-03-02,C-2,\"Two\r\nLines\"\n" +
				"9990000018,LAC,2026-03-02,C-3,\"\"\n",
			want: result{Rows: []returns.Row{
				{Line: 3, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C,1", FamilyName: `O"Brien`},
				{Line: 5, NHSNumber: "9990275831", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-2", FamilyName: "Two\nLines"},
				{Line: 7, NHSNumber: "9990000018", PlanType: "LAC", StartDate: "2026-03-02", LocalID: "C-3"},
			}},
		},
		{
			name: "header only",
			in:   header,
			want: result{},
		},
		{
			name: "DELTA needs only nhs_number and plan_type",
			file: deltaCSV,
			in:   "plan_type,nhs_number,action\nCPP,9990276579,delete\n",
			want: result{Rows: []returns.Row{{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", Action: "delete"}}},
		},
		{
			name: "FULL needs start_date and local_id",
			in:   "plan_type,nhs_number,action\nCPP,9990276579,\n",
			want: result{Err: f004(1, "the header has no start_date, local_id columns (a FULL return needs nhs_number, plan_type, start_date, local_id)")},
		},
		{
			name: "FULL without local_id",
			in:   "plan_type,nhs_number,start_date\n",
			want: result{Err: f004(1, "the header has no local_id column (a FULL return needs nhs_number, plan_type, start_date, local_id)")},
		},
		{
			name: "DELTA without nhs_number",
			file: deltaCSV,
			in:   "plan_type,start_date,local_id\n",
			want: result{Err: f004(1, "the header has no nhs_number column (a DELTA return needs nhs_number, plan_type)")},
		},
		{
			name: "unknown column",
			in:   "nhs_number,plan_type,start_date,local_id,postcode\n",
			want: result{Err: f004(1, `unknown column "postcode" in the header (the columns are nhs_number, plan_type, start_date, end_date, due_date, local_id, family_name, given_name, date_of_birth, action)`)},
		},
		{
			name: "repeated column",
			in:   "nhs_number,plan_type,start_date,local_id,NHS_NUMBER\n",
			want: result{Err: f004(1, "column nhs_number appears twice in the header")},
		},
		{
			name: "column without a name",
			in:   "nhs_number,plan_type,,start_date,local_id\n",
			want: result{Err: f004(1, "column 3 of the header has no name")},
		},
		{
			name: "header after blank lines",
			in:   "\n\nnhs_number,plan_type,start_date,local_id,colour\n",
			want: result{Err: f004(3, `unknown column "colour" in the header (the columns are nhs_number, plan_type, start_date, end_date, due_date, local_id, family_name, given_name, date_of_birth, action)`)},
		},
		{
			name: "empty file",
			in:   "",
			want: result{Err: f004(0, "the file is empty: a CSV return starts with a header row")},
		},
		{
			name: "BOM and blank lines only",
			in:   "\uFEFF\r\n\n",
			want: result{Err: f004(0, "the file is empty: a CSV return starts with a header row")},
		},
		{
			name: "too few fields",
			in: "nhs_number,plan_type,start_date,local_id\n" +
				"9990276579,CPP,2026-03-02,C-1\n" +
				"9990275831,CPP,2026-03-02\n",
			want: result{
				Rows: []returns.Row{{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-1"}},
				Err:  f005(3, "the record has 3 fields but the header has 4"),
			},
		},
		{
			name: "too many fields after a field over three lines",
			in: "nhs_number,plan_type,start_date,local_id\n" +
				"9990276579,CPP,2026-03-02,\"C\n-\n1\"\n" +
				"9990275831,CPP,2026-03-02,C-2,extra\n",
			want: result{
				Rows: []returns.Row{{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C\n-\n1"}},
				Err:  f005(5, "the record has 5 fields but the header has 4"),
			},
		},
		{
			name: "bare quote",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,C\"1\n",
			want: result{Err: f005(2, `a " inside a field that does not start with a quote (line 2, column 28): quote the whole field and double the inner quote`)},
		},
		{
			name: "quote not closed before the end",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,\"C-1\n9990275831,CPP,2026-03-02,C-2\n",
			want: result{Err: f005(2, "a quoted field starting on this line is not closed before the end of the file")},
		},
		{
			name: "text after a closing quote",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,\"C\"1\n",
			want: result{Err: f005(2, `a quoted field is not closed properly (line 2, column 29): a quote inside it must be doubled`)},
		},
		{
			name: "bad quoting in the header",
			in:   "nhs_number,\"plan_type\n",
			want: result{Err: f005(1, "a quoted field starting on this line is not closed before the end of the file")},
		},
		{
			name: "NUL byte",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,C-1\n9990275831,CPP,2026-03-02,C\x002\n",
			want: result{
				Rows: []returns.Row{{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-1"}},
				Err:  &codes.Error{Detail: codes.F001, Line: 3, Text: "the file holds a NUL byte: it must be UTF-8 text"},
			},
		},
		{
			name: "invalid UTF-8 (Latin-1)",
			in:   "nhs_number,plan_type,start_date,local_id,family_name\n9990276579,CPP,2026-03-02,C-1,Ren\xe9e\n",
			want: result{Err: &codes.Error{Detail: codes.F001, Line: 2, Text: `the file is not valid UTF-8 text (byte 0xE9): it looks like Latin-1 or Windows-1252 text; export it from Excel as "CSV UTF-8 (comma delimited)"`}},
		},
		{
			name: "UTF-8 cut short at the end",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,C-\xe2\x82",
			want: result{Err: &codes.Error{Detail: codes.F001, Line: 2, Text: "the file is not valid UTF-8 text (byte 0xE2)"}},
		},
		{
			name: "a BOM later in the file is text",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,\uFEFFC-1\n",
			want: result{Rows: []returns.Row{{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "\uFEFFC-1"}}},
		},
		{
			name: "invalid UTF-8 further on ranks before a structure problem",
			in: "nhs_number,plan_type,start_date,local_id\n" +
				"9990276579,CPP,2026-03-02\n" +
				strings.Repeat("9990275831,CPP,2026-03-02,C-2\n", 5000) +
				"9990000018,CPP,2026-03-02,\xff\n",
			want: result{Err: &codes.Error{Detail: codes.F001, Line: 5003, Text: `the file is not valid UTF-8 text (byte 0xFF): it looks like Latin-1 or Windows-1252 text; export it from Excel as "CSV UTF-8 (comma delimited)"`}},
		},
		{
			name: "line of exactly 1 MiB",
			in:   "nhs_number,plan_type,start_date,local_id\r\n" + oneMiBLine(0) + "\r\n",
			want: result{Rows: []returns.Row{{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: oneMiBLine(0)[len("9990276579,CPP,2026-03-02,"):]}}},
		},
		{
			name: "line of 1 MiB and one byte",
			in:   "nhs_number,plan_type,start_date,local_id\r\n" + oneMiBLine(1) + "\r\n",
			want: result{Err: f005(2, "the line is longer than 1 MiB")},
		},
		{
			name: "line of 2 MiB",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,C-1\n9990275831,CPP,2026-03-02," + strings.Repeat("x", 2<<20) + "\n",
			want: result{
				Rows: []returns.Row{{Line: 2, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-1"}},
				Err:  f005(3, "the line is longer than 1 MiB"),
			},
		},
		{
			name: "a quote left open turns the rest into one record",
			in:   "nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,\"C-1\n" + strings.Repeat("9990275831,CPP,2026-03-02,C-2\n", 40000),
			want: result{Err: f005(2, "the record starting here is longer than 1 MiB by line 34954 (is a quote not closed?)")},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := c.file
			if file == "" {
				file = fullCSV
			}
			got := readAll(t, file, strings.NewReader(c.in))
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("read (-want +got):\n%s", diff)
			}
		})
	}
}

// oneMiBLine returns a data line of 1 MiB plus extra bytes.
func oneMiBLine(extra int) string {
	const start = "9990276579,CPP,2026-03-02,"
	return start + strings.Repeat("x", 1<<20-len(start)+extra)
}

// A line far over the limit fails without being held in memory.
func TestCSVLongLineMemory(t *testing.T) {
	n, err := returns.ParseName(fullCSV)
	if err != nil {
		t.Fatal(err)
	}
	in := io.MultiReader(strings.NewReader("nhs_number,plan_type,start_date,local_id\n"),
		&repeatReader{b: 'x', n: 256 << 20, end: []byte("\n")})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rd, err := returns.NewReader(in, n)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rd.Next()
	runtime.ReadMemStats(&after)
	want := &codes.Error{Detail: codes.F005, Line: 2, Text: "the line is longer than 1 MiB"}
	if diff := cmp.Diff(want, err); diff != "" {
		t.Errorf("Next (-want +got):\n%s", diff)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("reading a 256 MiB line allocated %d MiB", alloc>>20)
	}
}

// A failure of the caller's reader comes back wrapped, also when a header
// problem was found before it.
func TestCSVSourceError(t *testing.T) {
	errLimit := errors.New("over the size limit")
	n, err := returns.ParseName(fullCSV)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		"nhs_number,plan_type,start_date,local_id\n9990276579,CPP,2026-03-02,C-1\n9990",
		"nhs_number,plan_type,start_date,local_id,colour\n9990276579,CPP,2026-03-02,C-1\n9990",
	} {
		rd, err := returns.NewReader(&failingReader{data: []byte(in), err: errLimit}, n)
		for err == nil {
			_, err = rd.Next()
		}
		if !errors.Is(err, errLimit) {
			t.Errorf("reading %q: %v, want %v wrapped", in, err, errLimit)
		}
		var ce *codes.Error
		if errors.As(err, &ce) {
			t.Errorf("reading %q: %v is a *codes.Error", in, err)
		}
	}
}

func TestNewReaderUnknownFormat(t *testing.T) {
	_, err := returns.NewReader(strings.NewReader(""), returns.Name{Format: "xlsx"})
	if err == nil {
		t.Fatal("NewReader with format xlsx: no error")
	}
}

// BenchmarkCSVReader reads a 10,000-row FULL return.
func BenchmarkCSVReader(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth,action\r\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "9990276579,CPP,2026-03-02,,,C-%05d,\"Smith, Jr\",Amy,2015-04-01,\r\n", i)
	}
	benchmarkReader(b, fullCSV, sb.String(), 10000)
}

// benchmarkReader reads data, the content of the return named file, with
// returns.NewReader, and checks it has rows rows.
func benchmarkReader(b *testing.B, file, data string, rows int) {
	n, err := returns.ParseName(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := returns.NewReader(strings.NewReader(data), n)
		if err != nil {
			b.Fatal(err)
		}
		read := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			read++
		}
		if read != rows {
			b.Fatalf("read %d rows, want %d", read, rows)
		}
	}
}
