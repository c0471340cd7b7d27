package nhsnumber

// The seed corpus of FuzzNormalize (testdata/fuzz/FuzzNormalize/) is
// written from the seed list in gen_fuzz_corpus.go.
//go:generate go run gen_fuzz_corpus.go
