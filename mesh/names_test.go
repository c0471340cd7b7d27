package mesh_test

import (
	"errors"
	"strings"
	"testing"

	"cpis/mesh"
)

func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		name string
		want string // "" for accepted
	}{
		{"CPIS_841_FULL_20261121.csv", ""},
		{"Rapport d'été ✓.csv", ""},
		{strings.Repeat("a", 250), ""},
		{strings.Repeat("é", 125), ""}, // 250 bytes
		{strings.Repeat("a", 251), "file name refused: it is 251 bytes long, the limit is 250"},
		{strings.Repeat("a", 255), "file name refused: it is 255 bytes long, the limit is 250"},
		{"a\x00.csv", "file name refused: it contains a control character (U+0000)"},
		{"a\x1b[2J.csv", "file name refused: it contains a control character (U+001B)"},
		{"a\r.csv", "file name refused: it contains a control character (U+000D)"},
		{"a\x7f.csv", "file name refused: it contains a control character (U+007F)"},
		{"a\u0085.csv", "file name refused: it contains a control character (U+0085)"},
		{"a\xff.csv", "file name refused: it is not valid UTF-8"},
		{"\xc0\xaf.csv", "file name refused: it is not valid UTF-8"},
		{"a\u061c.csv", "file name refused: it contains a bidirectional text control (U+061C)"},
		{"a\u200f.csv", "file name refused: it contains a bidirectional text control (U+200F)"},
		{"a\u202agsm.csv", "file name refused: it contains a bidirectional text control (U+202A)"},
		{"a\u202evsc.exe", "file name refused: it contains a bidirectional text control (U+202E)"},
		{"a\u2066.csv", "file name refused: it contains a bidirectional text control (U+2066)"},
		{"a\u2069.csv", "file name refused: it contains a bidirectional text control (U+2069)"},
		{"a\u2028.csv", "file name refused: it contains a line or paragraph separator (U+2028)"},
	} {
		err := mesh.CheckName(c.name)
		got := ""
		if err != nil {
			got = err.Error()
			if !errors.Is(err, mesh.ErrBadName) {
				t.Errorf("CheckName(%q) = %v, not ErrBadName", c.name, err)
			}
		}
		if got != c.want {
			t.Errorf("CheckName(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"CPIS_841_FULL_20261121.csv", "CPIS_841_FULL_20261121.csv"},
		{"Rapport d'été.csv", "Rapport d'été.csv"},
		{"x\x1b[31m.csv", `x\x1b[31m.csv`},
		{"a\u202egsm.csv", `a\u202egsm.csv`},
		{"a\xff.csv", `a\xff.csv`},
		{"a\nb \"q\".csv", `a\nb \"q\".csv`},
	} {
		if got := mesh.Printable(c.in); got != c.want {
			t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
