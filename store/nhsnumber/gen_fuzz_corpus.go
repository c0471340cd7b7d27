//go:build ignore

// gen_fuzz_corpus writes the seed corpus of FuzzNormalize,
// testdata/fuzz/FuzzNormalize/seed-NN, from the list below: the one place the
// seeds are written down. go test runs every file there as a test case (and
// go test -fuzz starts from them); a crasher a fuzzer found is kept there
// under the name the fuzzer gave it, and this program leaves it alone.
//
//	go generate ./store/nhsnumber
package main

import (
	"fmt"
	"log"
	"strings"

	"cpis/mesh/testenv"
)

// seeds are NHS numbers as they are written and mistyped: with spaces,
// hyphens and white space around (a no-break space too), one digit short or
// long, letters, other digits and dashes, a bad check digit, NUL, invalid
// UTF-8, and long runs.
var seeds = []string{
	"9434765919", "943 476 5919", " 943-476-5919\t", "9990276579", "9990275831",
	"9434765918", "0000000000", "4444444444", "", "   ", "-", " - - ",
	"943476591", "94347659190", "943476591X", "9O34765919",
	"\u00a09434765919", "9434765919\u00a0", "９４３４７６５９１９", "٩٤٣٤٧٦٥٩١٩",
	"943\u2010476\u20115919", "\xff9434765919", "9434765919\x00",
	"+449434765919", "1e9", strings.Repeat("9", 1000), strings.Repeat("- ", 500) + "9434765919",
}

func main() {
	files := map[string]string{}
	for i, s := range seeds {
		files[fmt.Sprintf("seed-%02d", i)] = testenv.CorpusFile(fmt.Sprintf("string(%q)", s))
	}
	if err := testenv.WriteCorpus("FuzzNormalize", files); err != nil {
		log.Fatal(err)
	}
}
