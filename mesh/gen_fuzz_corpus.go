//go:build ignore

// Command gen_fuzz_corpus writes the seed corpus of FuzzParseControl
// (fuzz_test.go) under testdata/fuzz/FuzzParseControl, one file
// "seed-<name>" per seed below, in the format go test reads. Run by
// `go generate ./mesh/`; files already there under other names (crashers
// the fuzzer found) are kept.
package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"cpis/mesh/testenv"

	"cpis/mesh"
)

func main() {
	// The incoming control file of mailboxes.md, as control_test.go reads it.
	example, err := os.ReadFile(filepath.Join("testdata", "control", "example.xml"))
	if err != nil {
		log.Fatal(err)
	}
	files := map[string]string{}
	for _, s := range controlSeeds(string(example)) {
		files["seed-"+s.name] = testenv.CorpusFile(fmt.Sprintf("[]byte(%q)", s.data))
	}
	if err := testenv.WriteCorpus("FuzzParseControl", files); err != nil {
		log.Fatal(err)
	}
}

type controlSeed struct {
	name string
	data []byte
}

// controlSeeds are the seeds, specExample among them.
func controlSeeds(specExample string) []controlSeed {
	b := func(s string) []byte { return []byte(s) }
	laughs := `<?xml version="1.0"?>
<!DOCTYPE DTSControl [
 <!ENTITY a "aaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<DTSControl><Subject>&h;</Subject></DTSControl>`
	out := `<?xml version="1.0" encoding="UTF-8"?>
<DTSControl>
  <Version>1.0</Version>
  <AddressType>DTS</AddressType>
  <MessageType>Data</MessageType>
  <From_DTS>CPISHUB01</From_DTS>
  <To_DTS>LA841HC001</To_DTS>
  <Subject>Response</Subject>
  <LocalId>CPIS_841_RESPONSE_20261122_20261122023000123456_ABCDEF.csv</LocalId>
  <DTSId>20261122023000123456_ABCDEF</DTSId>
  <WorkflowId>CPIS_LA_UPLOAD_ACK</WorkflowId>
  <Compress>N</Compress>
  <Encrypted>N</Encrypted>
  <IsCompressed>N</IsCompressed>
  <StatusRecord>
    <DateTime>20261122023000</DateTime>
    <Event>TRANSFER</Event>
    <Status>SUCCESS</Status>
    <StatusCode>00</StatusCode>
    <Description>Transferred to recipient mailbox</Description>
  </StatusRecord>
</DTSControl>
`
	return []controlSeed{
		{"incoming", b(specExample)},
		{"outgoing", b(out)},
		{"bom-lowercase-flags", b("\uFEFF<DTSControl><Compress> y </Compress><Encrypted>n</Encrypted><IsCompressed>Y</IsCompressed></DTSControl>")},
		{"bad-flag", b("<DTSControl><Encrypted>maybe</Encrypted></DTSControl>")},
		{"bad-datetime", b("<DTSControl><StatusRecord><DateTime>2026-11-22T02:30:00Z</DateTime></StatusRecord></DTSControl>")},
		{"empty-status", b("<DTSControl><StatusRecord/></DTSControl>")},
		{"empty", nil},
		{"billion-laughs", b(laughs)},
		{"external-entity", b(`<?xml version="1.0"?><!DOCTYPE DTSControl [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><DTSControl><Subject>&xxe;</Subject></DTSControl>`)},
		{"undeclared-entity", b("<DTSControl><Subject>&xxe;</Subject></DTSControl>")},
		{"two-roots", b("<DTSControl/><DTSControl/>")},
		{"other-root", b("<MESHControl><From_DTS>X</From_DTS></MESHControl>")},
		{"namespaced-root", b(`<x:DTSControl xmlns:x="urn:x"><x:DTSId>20261121013000123456_3F9A0C</x:DTSId></x:DTSControl>`)},
		{"repeated-element", b("<DTSControl><DTSId>a</DTSId><DTSId>b</DTSId></DTSControl>")},
		{"text-outside", b("hello<DTSControl/>")},
		{"deeply-nested", b("<DTSControl>" + strings.Repeat("<a>", 10_000) + strings.Repeat("</a>", 10_000) + "</DTSControl>")},
		{"deeply-nested-unclosed", b(strings.Repeat("<DTSControl>", 10_000))},
		{"nul", b("<DTSControl><Subject>a\x00b</Subject></DTSControl>")},
		{"invalid-utf8", b("<DTSControl><Subject>a\xffb</Subject></DTSControl>")},
		{"utf16-declared", b(`<?xml version="1.0" encoding="UTF-16"?><DTSControl/>`)},
		{"char-refs", b("<DTSControl><Subject>&#x1F600;&#10;&#13;&#9;&lt;&amp;</Subject><LocalId> &#160;x&#160; </LocalId></DTSControl>")},
		{"cdata", b("<DTSControl><Subject><![CDATA[<not/> &markup;]]></Subject></DTSControl>")},
		{"over-limit", b("<DTSControl><Subject>" + strings.Repeat("x", mesh.MaxControlSize) + "</Subject></DTSControl>")},
		{"5000-attributes", b("<DTSControl" + strings.Repeat(` a="1"`, 1) + func() string {
			var sb strings.Builder
			for i := range 5_000 {
				fmt.Fprintf(&sb, ` a%d="%d"`, i, i)
			}
			return sb.String()
		}() + "/>")},
	}
}
