//go:build ignore

// gen_fuzz_corpus writes the seed corpus of this package's fuzz targets,
// testdata/fuzz/<FuzzName>/seed-NN, from the list below: the one place the
// seeds are written down. go test runs every file there as a test case (and
// go test -fuzz starts from them); a crasher a fuzzer found is kept there
// under the name the fuzzer gave it, and this program leaves it alone.
//
//	go generate ./store/caldate
package main

import (
	"fmt"
	"log"

	"cpis/mesh/testenv"
)

// seeds are dates in every form a return may carry them, and near misses:
// both spellings, the bounds of years 1 to 9999, leap days, other digits,
// other separators, white space, NUL and invalid UTF-8.
var seeds = []string{
	"2026-11-21", " 2026-11-21\t", "21/11/2026", "1/1/2026", "01/01/2026", "29/02/2024", "29/02/2023",
	"2024-02-29", "2023-02-29", "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01",
	"2026-1-01", "2026-11-1", "2026/11/21", "11/21/2026", "0/1/2026", "1/0/2026", "001/1/2026",
	"1/1/26", "1/1/02026", "+2026-11-21", "-2026-11-21", "2026-11-21T00:00:00Z", "20261121",
	"2026-+1-21", "٢٠٢٦-١١-٢١", "２０２６-１１-２１", "2026\u201011\u201021", "1//2026", "//", "/", "",
	"2026-11-21\x00", "\xff2026-11-21", "31/12/9999", "1/1/0001", " 1 / 1 / 2026 ",
}

func main() {
	for _, target := range []string{"FuzzParse", "FuzzParseISO"} {
		files := map[string]string{}
		for i, s := range seeds {
			files[fmt.Sprintf("seed-%02d", i)] = testenv.CorpusFile(fmt.Sprintf("string(%q)", s))
		}
		if err := testenv.WriteCorpus(target, files); err != nil {
			log.Fatal(err)
		}
	}
}
