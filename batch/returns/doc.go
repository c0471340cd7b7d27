// Package returns reads what a local authority sends the hub: the file name
// of a return, its rows (CSV or XML streamed, or the first worksheet of an
// Excel workbook read in place: xlsx.go), and the checks a row must pass on
// its own (returns.md, "Checks, in order", up to R009).
//
// It sits between the mailbox, which hands over the decompressed bytes of a
// data file, and batch/ingest, which checks duplicates and demographics and
// applies the result to the store. Nothing here needs the store.
//
// File-level failures are *codes.Error values carrying the detail code of
// returns.md (F001, F002, F004, F005) and a line. In CSV it is the physical
// line where the record starts (for F001, the line of the bad byte), and
// the text does not repeat it, so a caller can prefix "line N: ". In XML it
// is the ordinal of the Plan being read (0 outside any Plan, and for F001,
// which is found ahead of the parser), and the text gives the physical XML
// line. Errors from the caller's reader (size limit, gzip) come back
// wrapped, so errors.Is still finds them.
//
// Text problems are found while streaming, in the order they appear. When a
// header or structure problem (F002, F004, F005) is found, the reader reads
// on to the end of the input before reporting it, so that invalid UTF-8
// (F001) or a failure of the underlying reader (a size limit: F006) found
// further on wins, as the order of checks in returns.md asks.
package returns
