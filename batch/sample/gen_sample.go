//go:build ignore

// gen_sample writes the sample files that are generated rather than
// edited: demographics.csv (embedded in the binary) from the people table
// of people.go, and its copy and the copy of authorities.csv under the
// repository's testdata, which the tests of other packages read.
//
//	go generate ./batch/sample
//
// The tests of this package fail while a file differs from what this
// writes.
package main

import (
	"log"
	"os"
	"path/filepath"

	"cpis/batch/sample"
)

func main() {
	testdata := filepath.Join("..", "..", "testdata")
	demo := sample.RenderDemographics()
	for _, f := range []struct {
		path string
		data []byte
	}{
		{"demographics.csv", demo},
		{filepath.Join(testdata, "demographics.csv"), demo},
		{filepath.Join(testdata, "authorities.csv"), sample.Authorities()},
	} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
