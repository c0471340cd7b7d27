package returns

import (
	"fmt"
	"path"
	"strings"

	"cpis/store/caldate"
	"cpis/store/codes"
)

// Kind is the kind of a return: every plan the LA holds, or only changes.
type Kind string

// The kinds of returns.md, in the upper case a Name always carries.
const (
	Full  Kind = "FULL"
	Delta Kind = "DELTA"
)

// Format is the file format of a return, in the lower case a Name carries.
type Format string

// The formats of returns.md.
const (
	CSV  Format = "csv"
	XML  Format = "xml"
	XLSX Format = "xlsx" // an Excel workbook; never gzipped
)

// Name is what the name of a data file says about the return it carries:
// CPIS_<LA>_<KIND>_<YYYYMMDD>[_<free text>].<ext>[.gz]. It is authoritative
// for the LA, the kind and the extract date.
type Name struct {
	LA      string       // DfE LA code, 3 digits
	Kind    Kind         // Full or Delta, whatever case the name used
	Extract caldate.Date // the extract date
	Free    string       // the free text as sent; "" when absent
	Format  Format       // CSV, XML or XLSX, whatever case the name used
	Gzip    bool         // the name ends .gz (never with XLSX)
}

// maxFree is the longest free text a file name may carry.
const maxFree = 50

// ParseName reads a data file name (a base name, without folders). Any
// failure is a *codes.Error with detail F002 whose text names the file and
// what is wrong with it.
func ParseName(name string) (Name, error) {
	bad := func(format string, args ...any) (Name, error) {
		return Name{}, &codes.Error{Detail: codes.F002,
			Text: fmt.Sprintf("file name %q: ", name) + fmt.Sprintf(format, args...)}
	}
	var n Name
	rest := name
	if hasSuffixFold(rest, ".gz") {
		n.Gzip = true
		rest = rest[:len(rest)-len(".gz")]
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return bad("extension must be .csv, .xml (optionally .gz) or .xlsx")
	}
	switch ext := lowerASCIIString(rest[dot+1:]); {
	case ext == "csv":
		n.Format = CSV
	case ext == "xml":
		n.Format = XML
	case ext == "xlsx" && n.Gzip:
		return bad("an Excel workbook (.xlsx) is compressed already: send it without .gz")
	case ext == "xlsx":
		n.Format = XLSX
	case ext == "xlsm":
		return bad("a workbook with macros (.xlsm) is not a return: save it from Excel as an Excel Workbook (.xlsx)")
	default:
		return bad("extension must be .csv, .xml (optionally .gz) or .xlsx")
	}
	parts := strings.Split(rest[:dot], "_")
	if len(parts) < 4 || !equalFoldASCII(parts[0], "CPIS") {
		return bad("must be CPIS_<LA>_<FULL or DELTA>_<YYYYMMDD>[_<free text>].csv, .xml or .xlsx")
	}
	if la := parts[1]; len(la) != 3 || !allDigits(la) {
		return bad("LA code %q must be 3 digits", la)
	}
	n.LA = parts[1]
	switch kind := Kind(upperASCII(parts[2])); kind {
	case Full, Delta:
		n.Kind = kind
	default:
		return bad("kind %q must be FULL or DELTA", parts[2])
	}
	extract, err := caldate.ParseCompact(parts[3])
	if err != nil || !allDigits(parts[3]) {
		return bad("extract date %q is not a real date in the form YYYYMMDD", parts[3])
	}
	n.Extract = extract
	if len(parts) > 4 {
		free := strings.Join(parts[4:], "_")
		if len(free) < 1 || len(free) > maxFree || !validFree(free) {
			return bad("free text %q must be 1 to %d letters, digits or hyphens", free, maxFree)
		}
		n.Free = free
	}
	return n, nil
}

// ControlFileName returns the name of the control file that goes with a
// data file (mesh/mailboxes.md, "Messages"): the whole .csv or .xml suffix, with any .gz
// after it, replaced by .ctl, in any case. A name without such a suffix
// (an .xlsx workbook's) loses its last extension instead.
func ControlFileName(dataName string) string {
	for _, suffix := range []string{".csv.gz", ".xml.gz", ".csv", ".xml"} {
		if hasSuffixFold(dataName, suffix) {
			return dataName[:len(dataName)-len(suffix)] + ".ctl"
		}
	}
	return strings.TrimSuffix(dataName, path.Ext(dataName)) + ".ctl"
}

// hasSuffixFold reports whether s ends with the ASCII suffix in any case.
// Comparing bytes keeps the cut exact whatever runes s holds.
func hasSuffixFold(s, suffix string) bool {
	if len(s) < len(suffix) {
		return false
	}
	tail := s[len(s)-len(suffix):]
	for i := 0; i < len(suffix); i++ {
		if lowerASCII(tail[i]) != lowerASCII(suffix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validFree(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
