package nhsnumber_test

// Fuzz target for NHS number normalisation (issue 6).
//
//	go test -run='^$' -fuzz=FuzzNormalize -fuzztime=60s -fuzzminimizetime=5s ./store/nhsnumber
//
// Plain go test replays the corpus under testdata/fuzz/FuzzNormalize/: the
// seeds, written from the list in gen_fuzz_corpus.go by
//
//	go generate ./store/nhsnumber
//
// and any crasher a fuzzer found, kept under the name it gave.

import (
	"strings"
	"testing"

	"cpis/store/nhsnumber"
)

func FuzzNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		out, p := nhsnumber.Normalize(s)
		if nhsnumber.Valid(s) != (p == nhsnumber.OK) {
			t.Fatalf("Valid(%q) disagrees with Normalize's %q", s, p)
		}
		// Surrounding white space (store/domain.md) is any white space, as
		// strings.TrimSpace sees it: a no-break space from a spreadsheet
		// too.
		if out2, p2 := nhsnumber.Normalize(strings.TrimSpace(s)); out2 != out || p2 != p {
			t.Fatalf("Normalize(%q) = %q, %q, but without surrounding white space %q, %q", s, out, p, out2, p2)
		}
		if len(out) > len(s) {
			t.Fatalf("Normalize(%q) = %q, longer than its input", s, out)
		}
		switch p {
		case nhsnumber.OK, nhsnumber.BadCheck:
			if len(out) != 10 || strings.Trim(out, "0123456789") != "" {
				t.Fatalf("Normalize(%q) = %q, %q: want 10 digits", s, out, p)
			}
			if want := modulus11OK(out); (p == nhsnumber.OK) != want {
				t.Fatalf("Normalize(%q) = %q, %q, but the modulus 11 rule says valid=%v", s, out, p, want)
			}
			// Idempotent on its output.
			if again, p2 := nhsnumber.Normalize(out); again != out || p2 != p {
				t.Fatalf("Normalize(%q) = %q, %q; Normalize of that = %q, %q", s, out, p, again, p2)
			}
			// Spaces and hyphens inside, white space around, change nothing.
			dressed := " \t" + out[:3] + " " + out[3:6] + "-" + out[6:] + "\r\n"
			if again, p2 := nhsnumber.Normalize(dressed); again != out || p2 != p {
				t.Fatalf("Normalize(%q) = %q, %q; want %q, %q as for %q", dressed, again, p2, out, p, s)
			}
		case nhsnumber.Missing:
			if out != "" || strings.TrimSpace(s) != "" {
				t.Fatalf("Normalize(%q) = %q, Missing, but the input is not blank", s, out)
			}
		case nhsnumber.NotTenDigits:
			if strings.ContainsAny(out, " -") {
				t.Fatalf("Normalize(%q) = %q, NotTenDigits, still holding a space or hyphen", s, out)
			}
			if digitsOnly(out) && len(out) == 10 {
				t.Fatalf("Normalize(%q) = %q, NotTenDigits, but that is 10 digits", s, out)
			}
		default:
			t.Fatalf("Normalize(%q) gave the unknown problem %q", s, p)
		}
		if p.Describe() == "" && p != nhsnumber.OK {
			t.Fatalf("problem %q has no description", p)
		}
	})
}

// modulus11OK is store/domain.md's rule, written out independently.
func modulus11OK(n string) bool {
	sum := 0
	for i := range 9 {
		sum += int(n[i]-'0') * (10 - i)
	}
	check := (11 - sum%11) % 11
	return check != 10 && int(n[9]-'0') == check && strings.Count(n, n[:1]) != 10
}

func digitsOnly(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
