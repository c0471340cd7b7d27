package mesh_test

// Fuzz target for the control-file parser (issue 6).
//
//	go test -run='^$' -fuzz=FuzzParseControl -fuzztime=60s -fuzzminimizetime=5s ./mesh
//
// Plain go test replays the seeds below and the corpus under
// testdata/fuzz/FuzzParseControl/, written from controlSeeds by
//
//	CPIS_WRITE_FUZZ_CORPUS=1 go test -run=TestWriteFuzzCorpus ./mesh

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

// controlFuzzHang is how long one input may take before the target
// reports a hang.
const controlFuzzHang = 20 * time.Second

// controlAllocBudget bounds what ParseControl may allocate for an input of
// n bytes: it reads at most MaxControlSize+1 bytes, so the budget is fixed
// beyond that (a few copies of the input while decoding twice).
func controlAllocBudget(n int) uint64 {
	return 8<<20 + 96*uint64(min(n, mesh.MaxControlSize+1))
}

func FuzzParseControl(f *testing.F) {
	for _, s := range controlSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type outcome struct {
			c     mesh.Control
			err   error
			alloc uint64
		}
		done := make(chan outcome, 1)
		go func() {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c, err := mesh.ParseControl(mesh.LimitReader(bytes.NewReader(data), 1<<20))
			runtime.ReadMemStats(&after)
			done <- outcome{c, err, after.TotalAlloc - before.TotalAlloc}
		}()
		var out outcome
		select {
		case out = <-done:
		case <-time.After(controlFuzzHang):
			t.Fatalf("ParseControl of %d bytes did not end within %v", len(data), controlFuzzHang)
		}
		if out.alloc > controlAllocBudget(len(data)) {
			t.Fatalf("ParseControl of %d bytes allocated %d bytes, over the budget of %d", len(data), out.alloc, controlAllocBudget(len(data)))
		}
		if out.err != nil {
			if !errors.Is(out.err, mesh.ErrBadControl) {
				t.Fatalf("ParseControl error %v does not wrap ErrBadControl", out.err)
			}
			if len(data) > mesh.MaxControlSize && !errors.Is(out.err, mesh.ErrTooLarge) {
				t.Fatalf("ParseControl of %d bytes: %v, want ErrTooLarge", len(data), out.err)
			}
			if !cmp.Equal(out.c, mesh.Control{}) {
				t.Fatalf("ParseControl failed (%v) but returned %+v", out.err, out.c)
			}
			return
		}
		if len(data) > mesh.MaxControlSize {
			t.Fatalf("ParseControl accepted %d bytes, over MaxControlSize", len(data))
		}
		c := out.c
		for _, v := range []string{c.Version, c.AddressType, c.MessageType, c.From, c.To, c.Subject, c.LocalID, c.DTSID, c.WorkflowID} {
			if v != strings.TrimSpace(v) {
				t.Fatalf("ParseControl value %q is not trimmed", v)
			}
		}
		if s := c.Status; s != nil && !s.DateTime.IsZero() {
			if s.DateTime.Location() != time.UTC || s.DateTime.Nanosecond() != 0 {
				t.Fatalf("StatusRecord DateTime %v is not whole seconds UTC", s.DateTime)
			}
		}
		// What was read survives writing and reading again.
		again, err := mesh.ParseControl(bytes.NewReader(c.Marshal()))
		if err != nil {
			t.Fatalf("ParseControl(Marshal(%+v)): %v\n%s", c, err, c.Marshal())
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("control changed through Marshal and ParseControl (-read +again):\n%s\n%s", diff, c.Marshal())
		}
	})
}

type controlSeed struct {
	name string
	data []byte
}

func controlSeeds() []controlSeed {
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

// TestWriteFuzzCorpus writes the seed corpus of FuzzParseControl under
// testdata/fuzz when CPIS_WRITE_FUZZ_CORPUS is set; crashers already there
// are kept.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("CPIS_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set CPIS_WRITE_FUZZ_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseControl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range controlSeeds() {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
