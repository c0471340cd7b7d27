package nhsnumber_test

// Fuzz target for NHS number normalisation (issue 6).
//
//	go test -run='^$' -fuzz=FuzzNormalize -fuzztime=60s -fuzzminimizetime=5s ./store/nhsnumber
//
// Plain go test replays the seeds below and the corpus under
// testdata/fuzz/FuzzNormalize/, written from normalizeSeeds by
//
//	CPIS_WRITE_FUZZ_CORPUS=1 go test -run=TestWriteFuzzCorpus ./store/nhsnumber

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cpis/store/nhsnumber"
)

func FuzzNormalize(f *testing.F) {
	for _, s := range normalizeSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, p := nhsnumber.Normalize(s)
		if nhsnumber.Valid(s) != (p == nhsnumber.OK) {
			t.Fatalf("Valid(%q) disagrees with Normalize's %q", s, p)
		}
		// Surrounding white space (domain.md) is any white space, as
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

// modulus11OK is domain.md's rule, written out independently.
func modulus11OK(n string) bool {
	sum := 0
	for i := range 9 {
		sum += int(n[i]-'0') * (10 - i)
	}
	check := (11 - sum%11) % 11
	return check != 10 && int(n[9]-'0') == check && strings.Count(n, n[:1]) != 10
}

func digitsOnly(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func normalizeSeeds() []string {
	return []string{
		"9434765919", "943 476 5919", " 943-476-5919\t", "9990276579", "9990275831",
		"9434765918", "0000000000", "4444444444", "", "   ", "-", " - - ",
		"943476591", "94347659190", "943476591X", "9O34765919",
		"\u00a09434765919", "9434765919\u00a0", "９４３４７６５９１９", "٩٤٣٤٧٦٥٩١٩",
		"943\u2010476\u20115919", "\xff9434765919", "9434765919\x00",
		"+449434765919", "1e9", strings.Repeat("9", 1000), strings.Repeat("- ", 500) + "9434765919",
	}
}

// TestWriteFuzzCorpus writes the seed corpus of FuzzNormalize under
// testdata/fuzz when CPIS_WRITE_FUZZ_CORPUS is set; crashers already there
// are kept.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("CPIS_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set CPIS_WRITE_FUZZ_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzNormalize")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range normalizeSeeds() {
		content := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
