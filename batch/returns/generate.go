package returns

// The seed corpus of the fuzz targets (testdata/fuzz/<FuzzName>/) is
// written from the seed lists in gen_fuzz_corpus.go.
//go:generate go run gen_fuzz_corpus.go
