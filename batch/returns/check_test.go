package returns_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/returns"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

func TestCheck(t *testing.T) {
	full, err := returns.ParseName("CPIS_841_FULL_20261121.csv")
	if err != nil {
		t.Fatal(err)
	}
	delta, err := returns.ParseName("CPIS_841_DELTA_20261121.xml")
	if err != nil {
		t.Fatal(err)
	}
	date := func(y int, m time.Month, d int) caldate.Date { return caldate.Of(y, m, d) }
	base := returns.Row{Line: 7, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-1"}
	with := func(change func(*returns.Row)) returns.Row {
		r := base
		change(&r)
		return r
	}
	key := func(nhs string, typ plans.Type) plans.Key { return plans.Key{NHS: nhs, LA: "841", Type: typ} }
	rejected := func(r returns.Row, nhs string, typ plans.Type, d codes.Detail, text string) returns.Checked {
		k := key(nhs, typ)
		return returns.Checked{Row: r, NHS: nhs, Key: k, Plan: plans.Plan{Key: k, LocalID: r.LocalID},
			Action: returns.Upsert, Reject: &codes.Problem{Detail: d, Text: text}}
	}
	long := strings.Repeat("é", 101)

	cases := []struct {
		name string
		n    returns.Name // default full
		row  returns.Row
		want returns.Checked
	}{
		{
			name: "open CPP",
			row:  base,
			want: returns.Checked{Row: base, NHS: "9990276579", Key: key("9990276579", plans.CPP), Action: returns.Upsert,
				Plan: plans.Plan{Key: key("9990276579", plans.CPP), Start: date(2026, 3, 2), LocalID: "C-1"}},
		},
		{
			name: "ended UCPP in D/M/YYYY with everything at its limit",
			row: returns.Row{Line: 3, NHSNumber: " 999-027-5831 ", PlanType: "ucpp", StartDate: "2/3/2026", EndDate: " 21/11/2026 ",
				DueDate: "1/12/2026", LocalID: strings.Repeat("ü", 64), FamilyName: strings.Repeat("é", 100), GivenName: " Amy ", DateOfBirth: "1990-01-31"},
			want: returns.Checked{
				Row: returns.Row{Line: 3, NHSNumber: " 999-027-5831 ", PlanType: "ucpp", StartDate: "2/3/2026", EndDate: " 21/11/2026 ",
					DueDate: "1/12/2026", LocalID: strings.Repeat("ü", 64), FamilyName: strings.Repeat("é", 100), GivenName: " Amy ", DateOfBirth: "1990-01-31"},
				NHS: "9990275831", Key: key("9990275831", plans.UCPP), Action: returns.Upsert, DOB: date(1990, 1, 31),
				Plan: plans.Plan{Key: key("9990275831", plans.UCPP), Start: date(2026, 3, 2), End: date(2026, 11, 21), Due: date(2026, 12, 1), LocalID: strings.Repeat("ü", 64)},
			},
		},
		{
			name: "W002 due date on a LAC",
			row:  with(func(r *returns.Row) { r.PlanType = "LAC"; r.DueDate = "not a date" }),
			want: returns.Checked{Row: with(func(r *returns.Row) { r.PlanType = "LAC"; r.DueDate = "not a date" }),
				NHS: "9990276579", Key: key("9990276579", plans.LAC), Action: returns.Upsert,
				Plan:     plans.Plan{Key: key("9990276579", plans.LAC), Start: date(2026, 3, 2), LocalID: "C-1"},
				Warnings: []codes.Problem{{Detail: codes.W002, Text: `due_date "not a date" is ignored: only a UCPP plan has a due date, this row is LAC`}}},
		},
		{
			name: "R001 NHS number missing",
			row:  with(func(r *returns.Row) { r.NHSNumber = "  " }),
			want: rejected(with(func(r *returns.Row) { r.NHSNumber = "  " }), "", plans.CPP, codes.R001, "NHS number is missing"),
		},
		{
			name: "R002 letter in the NHS number",
			row:  with(func(r *returns.Row) { r.NHSNumber = "99902A6579" }),
			want: rejected(with(func(r *returns.Row) { r.NHSNumber = "99902A6579" }), "99902A6579", plans.CPP, codes.R002, `NHS number "99902A6579" is not 10 digits`),
		},
		{
			name: "R002 nine digits, before a bad plan type",
			row:  with(func(r *returns.Row) { r.NHSNumber = "999 027 657"; r.PlanType = "CP" }),
			want: rejected(with(func(r *returns.Row) { r.NHSNumber = "999 027 657"; r.PlanType = "CP" }), "999027657", "", codes.R002, `NHS number "999 027 657" is not 10 digits (it has 9)`),
		},
		{
			name: "R003 check digit",
			row:  with(func(r *returns.Row) { r.NHSNumber = "9990276578" }),
			want: rejected(with(func(r *returns.Row) { r.NHSNumber = "9990276578" }), "9990276578", plans.CPP, codes.R003, `NHS number "9990276578" fails the check digit (is a digit mistyped?)`),
		},
		{
			name: "R003 one repeated digit",
			row:  with(func(r *returns.Row) { r.NHSNumber = "9999999999" }),
			want: rejected(with(func(r *returns.Row) { r.NHSNumber = "9999999999" }), "9999999999", plans.CPP, codes.R003, `NHS number "9999999999" is one digit repeated, which is never a valid number`),
		},
		{
			name: "R004 plan type unknown",
			row:  with(func(r *returns.Row) { r.PlanType = "CIN" }),
			want: rejected(with(func(r *returns.Row) { r.PlanType = "CIN" }), "9990276579", "", codes.R004, `plan_type "CIN" is not CPP, LAC or UCPP`),
		},
		{
			name: "R004 plan type missing",
			row:  with(func(r *returns.Row) { r.PlanType = "" }),
			want: rejected(with(func(r *returns.Row) { r.PlanType = "" }), "9990276579", "", codes.R004, "plan_type is missing (use CPP, LAC or UCPP)"),
		},
		{
			name: "R005 start date missing, before a missing local_id",
			row:  with(func(r *returns.Row) { r.StartDate = ""; r.LocalID = "" }),
			want: rejected(with(func(r *returns.Row) { r.StartDate = ""; r.LocalID = "" }), "9990276579", plans.CPP, codes.R005, "start_date is missing"),
		},
		{
			name: "R005 start date not a date",
			row:  with(func(r *returns.Row) { r.StartDate = "31/02/2026" }),
			want: rejected(with(func(r *returns.Row) { r.StartDate = "31/02/2026" }), "9990276579", plans.CPP, codes.R005, `start_date "31/02/2026" is not a date (use YYYY-MM-DD or D/M/YYYY)`),
		},
		{
			name: "R006 end date not a date",
			row:  with(func(r *returns.Row) { r.EndDate = "2026-13-01" }),
			want: rejected(with(func(r *returns.Row) { r.EndDate = "2026-13-01" }), "9990276579", plans.CPP, codes.R006, `end_date "2026-13-01" is not a date (use YYYY-MM-DD or D/M/YYYY)`),
		},
		{
			name: "R006 end date before the start",
			row:  with(func(r *returns.Row) { r.EndDate = "2026-01-01" }),
			want: rejected(with(func(r *returns.Row) { r.EndDate = "2026-01-01" }), "9990276579", plans.CPP, codes.R006, "end_date 2026-01-01 is before start_date 2026-03-02"),
		},
		{
			name: "R007 start after the extract date",
			row:  with(func(r *returns.Row) { r.StartDate = "22/11/2026" }),
			want: rejected(with(func(r *returns.Row) { r.StartDate = "22/11/2026" }), "9990276579", plans.CPP, codes.R007, "start_date 22/11/2026 is after the extract date 2026-11-21"),
		},
		{
			name: "R007 end after the extract date",
			row:  with(func(r *returns.Row) { r.EndDate = "2026-11-22" }),
			want: rejected(with(func(r *returns.Row) { r.EndDate = "2026-11-22" }), "9990276579", plans.CPP, codes.R007, "end_date 2026-11-22 is after the extract date 2026-11-21"),
		},
		{
			name: "R008 UCPP without a due date",
			row:  with(func(r *returns.Row) { r.PlanType = "UCPP" }),
			want: rejected(with(func(r *returns.Row) { r.PlanType = "UCPP" }), "9990276579", plans.UCPP, codes.R008, "due_date is missing: a UCPP plan needs the expected date of birth"),
		},
		{
			name: "R008 UCPP with a due date that is not a date",
			row:  with(func(r *returns.Row) { r.PlanType = "UCPP"; r.DueDate = "soon" }),
			want: rejected(with(func(r *returns.Row) { r.PlanType = "UCPP"; r.DueDate = "soon" }), "9990276579", plans.UCPP, codes.R008, `due_date "soon" is not a date (use YYYY-MM-DD or D/M/YYYY)`),
		},
		{
			name: "R010 local_id missing",
			row:  with(func(r *returns.Row) { r.LocalID = " " }),
			want: rejected(with(func(r *returns.Row) { r.LocalID = " " }), "9990276579", plans.CPP, codes.R010, "local_id is missing"),
		},
		{
			name: "R010 local_id of 65 characters",
			row:  with(func(r *returns.Row) { r.LocalID = strings.Repeat("x", 65) }),
			want: rejected(with(func(r *returns.Row) { r.LocalID = strings.Repeat("x", 65) }), "9990276579", plans.CPP, codes.R010,
				`local_id "`+strings.Repeat("x", 40)+`…" is 65 characters long (at most 64)`),
		},
		{
			name: "R010 local_id not printable",
			row:  with(func(r *returns.Row) { r.LocalID = "C\t1" }),
			want: rejected(with(func(r *returns.Row) { r.LocalID = "C\t1" }), "9990276579", plans.CPP, codes.R010, `local_id "C\t1" holds a character that is not printable (U+0009)`),
		},
		{
			name: "R011 action in a FULL return",
			row:  with(func(r *returns.Row) { r.Action = "upsert" }),
			want: rejected(with(func(r *returns.Row) { r.Action = "upsert" }), "9990276579", plans.CPP, codes.R011, `action "upsert" is not allowed in a FULL return (leave it empty, or send a DELTA)`),
		},
		{
			name: "R011 action unknown",
			n:    delta,
			row:  with(func(r *returns.Row) { r.Action = "REMOVE" }),
			want: rejected(with(func(r *returns.Row) { r.Action = "REMOVE" }), "9990276579", plans.CPP, codes.R011, `action "REMOVE" is not UPSERT or DELETE`),
		},
		{
			name: "R012 date of birth not a date",
			row:  with(func(r *returns.Row) { r.DateOfBirth = "1/1/15" }),
			want: rejected(with(func(r *returns.Row) { r.DateOfBirth = "1/1/15" }), "9990276579", plans.CPP, codes.R012, `date_of_birth "1/1/15" is not a date (use YYYY-MM-DD or D/M/YYYY)`),
		},
		{
			name: "R013 family name too long",
			row:  with(func(r *returns.Row) { r.FamilyName = long }),
			want: rejected(with(func(r *returns.Row) { r.FamilyName = long }), "9990276579", plans.CPP, codes.R013,
				`family_name "`+strings.Repeat("é", 40)+`…" is 101 characters long (at most 100)`),
		},
		{
			name: "R013 given name too long",
			row:  with(func(r *returns.Row) { r.GivenName = long }),
			want: rejected(with(func(r *returns.Row) { r.GivenName = long }), "9990276579", plans.CPP, codes.R013,
				`given_name "`+strings.Repeat("é", 40)+`…" is 101 characters long (at most 100)`),
		},
		{
			name: "DELTA UPSERT in lower case",
			n:    delta,
			row:  with(func(r *returns.Row) { r.Action = " upsert " }),
			want: returns.Checked{Row: with(func(r *returns.Row) { r.Action = " upsert " }), NHS: "9990276579", Key: key("9990276579", plans.CPP), Action: returns.Upsert,
				Plan: plans.Plan{Key: key("9990276579", plans.CPP), Start: date(2026, 3, 2), LocalID: "C-1"}},
		},
		{
			name: "DELETE needs only the NHS number and plan type",
			n:    delta,
			row:  returns.Row{Line: 2, NHSNumber: "9990275831", PlanType: "LAC", StartDate: "rubbish", EndDate: "x", DueDate: "y", DateOfBirth: "z", FamilyName: long, Action: "Delete"},
			want: returns.Checked{
				Row: returns.Row{Line: 2, NHSNumber: "9990275831", PlanType: "LAC", StartDate: "rubbish", EndDate: "x", DueDate: "y", DateOfBirth: "z", FamilyName: long, Action: "Delete"},
				NHS: "9990275831", Key: key("9990275831", plans.LAC), Plan: plans.Plan{Key: key("9990275831", plans.LAC)}, Action: returns.Delete},
		},
		{
			name: "DELETE with an invalid local_id",
			n:    delta,
			row:  returns.Row{Line: 2, NHSNumber: "9990275831", PlanType: "LAC", LocalID: "C\x7f", Action: "DELETE"},
			want: returns.Checked{
				Row: returns.Row{Line: 2, NHSNumber: "9990275831", PlanType: "LAC", LocalID: "C\x7f", Action: "DELETE"},
				NHS: "9990275831", Key: key("9990275831", plans.LAC), Plan: plans.Plan{Key: key("9990275831", plans.LAC), LocalID: "C\x7f"}, Action: returns.Delete,
				Reject: &codes.Problem{Detail: codes.R010, Text: `local_id "C\x7f" holds a character that is not printable (U+007F)`}},
		},
		{
			name: "DELETE with a bad plan type",
			n:    delta,
			row:  returns.Row{Line: 2, NHSNumber: "9990275831", PlanType: "LACC", Action: "DELETE"},
			want: returns.Checked{
				Row: returns.Row{Line: 2, NHSNumber: "9990275831", PlanType: "LACC", Action: "DELETE"},
				NHS: "9990275831", Key: key("9990275831", ""), Plan: plans.Plan{Key: key("9990275831", "")}, Action: returns.Delete,
				Reject: &codes.Problem{Detail: codes.R004, Text: `plan_type "LACC" is not CPP, LAC or UCPP`}},
		},
		{
			name: "DELETE in a FULL return is R011 on an upsert",
			row:  with(func(r *returns.Row) { r.Action = "DELETE" }),
			want: rejected(with(func(r *returns.Row) { r.Action = "DELETE" }), "9990276579", plans.CPP, codes.R011, `action "DELETE" is not allowed in a FULL return (leave it empty, or send a DELTA)`),
		},
		{
			name: "DELETE in a FULL return is checked as an upsert",
			row:  with(func(r *returns.Row) { r.Action = "DELETE"; r.StartDate = "" }),
			want: rejected(with(func(r *returns.Row) { r.Action = "DELETE"; r.StartDate = "" }), "9990276579", plans.CPP, codes.R005, "start_date is missing"),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := c.n
			if n == (returns.Name{}) {
				n = full
			}
			got := returns.Check(c.row, n)
			if diff := cmp.Diff(c.want, got, cmp.Comparer(func(a, b caldate.Date) bool { return a == b })); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}
