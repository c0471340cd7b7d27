package nhsnumber_test

import (
	"testing"

	"cpis/store/nhsnumber"
)

// The cases of the public NHS number vectors (valid, invalid and why).
func TestNormalize(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		problem nhsnumber.Problem
	}{
		{"9434765919", "9434765919", nhsnumber.OK},
		{"943 476 5919", "9434765919", nhsnumber.OK},
		{"943-476-5919", "9434765919", nhsnumber.OK},
		{"  9990276579\t", "9990276579", nhsnumber.OK},
		{"4010232137", "4010232137", nhsnumber.OK},
		{"2983396339", "2983396339", nhsnumber.OK},
		{"9000000009", "9000000009", nhsnumber.OK},
		{"9449306168", "9449306168", nhsnumber.OK},
		{"9990276579", "9990276579", nhsnumber.OK},
		{"9990275831", "9990275831", nhsnumber.OK},
		{"9434765918", "9434765918", nhsnumber.BadCheck},
		{"9876544321", "9876544321", nhsnumber.BadCheck},
		{"9912003899", "9912003899", nhsnumber.BadCheck},
		{"1000000010", "1000000010", nhsnumber.BadCheck},
		{"0000000000", "0000000000", nhsnumber.BadCheck},
		{"4444444444", "4444444444", nhsnumber.BadCheck},
		{"943476591", "943476591", nhsnumber.NotTenDigits},
		{"94347659190", "94347659190", nhsnumber.NotTenDigits},
		{"94347A5919", "94347A5919", nhsnumber.NotTenDigits},
		{"", "", nhsnumber.Missing},
		{"   ", "", nhsnumber.Missing},
	}
	for _, c := range cases {
		got, p := nhsnumber.Normalize(c.in)
		if got != c.want || p != c.problem {
			t.Errorf("Normalize(%q) = %q, %q; want %q, %q", c.in, got, p, c.want, c.problem)
		}
	}
}
