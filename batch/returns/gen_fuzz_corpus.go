//go:build ignore

// gen_fuzz_corpus writes the seed corpus of this package's fuzz targets,
// testdata/fuzz/<FuzzName>/seed-*, from the lists below: the one place the
// seeds are written down. go test runs every file there as a test case (and
// go test -fuzz starts from them); a crasher a fuzzer found is kept there
// under the name the fuzzer gave it, and this program leaves it alone.
//
//	go generate ./batch/returns
package main

import (
	"fmt"
	"log"
	"strings"

	"cpis/mesh/testenv"
)

func main() {
	for target, seeds := range map[string][]fuzzSeed{"FuzzReadCSV": csvSeeds(), "FuzzReadXML": xmlSeeds()} {
		files := map[string]string{}
		for _, s := range seeds {
			files["seed-"+s.name] = testenv.CorpusFile(fmt.Sprintf("[]byte(%q)", s.data), fmt.Sprintf("bool(%v)", s.delta))
		}
		if err := testenv.WriteCorpus(target, files); err != nil {
			log.Fatal(err)
		}
	}
	files := map[string]string{}
	for i, s := range nameSeeds() {
		files[fmt.Sprintf("seed-%02d", i)] = testenv.CorpusFile(fmt.Sprintf("string(%q)", s))
	}
	if err := testenv.WriteCorpus("FuzzParseName", files); err != nil {
		log.Fatal(err)
	}
}

// fuzzSeed is one seed input of a reader fuzz target.
type fuzzSeed struct {
	name  string // file name under testdata/fuzz/<target>/
	data  []byte
	delta bool
}

const (
	seedHeader   = "nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth"
	seedRowCPP   = "9990276579,CPP,2026-03-02,,,C-10442,Smith,Amy,2015-04-01"
	seedRowUCPP  = "999 027 5831,ucpp,2/3/2026,,2026-12-01,C-10443,\"O'Brien, Jr\",\"Zoë \"\"Jo\"\"\","
	seedXMLRoot  = `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="FULL" extractDate="2026-11-21">`
	seedXMLDelta = `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="DELTA" extractDate="2026-11-21">`
	seedXMLPlan  = `<Plan><NHSNumber>9990276579</NHSNumber><PlanType>CPP</PlanType><StartDate>2026-03-02</StartDate><LocalId>C-10442</LocalId></Plan>`
)

func csvSeeds() []fuzzSeed {
	b := func(s string) []byte { return []byte(s) }
	manyCols := make([]string, 10_000)
	manyVals := make([]string, 10_000)
	for i := range manyCols {
		manyCols[i] = fmt.Sprintf("c%05d", i)
		manyVals[i] = "1"
	}
	copy(manyCols, []string{"nhs_number", "plan_type", "start_date", "local_id"})
	formula := "=HYPERLINK(\"http://x/\",\"click\")"
	return []fuzzSeed{
		{name: "full", data: b(seedHeader + "\n" + seedRowCPP + "\n" + seedRowUCPP + "\n")},
		{name: "full-crlf-bom", data: b("\uFEFF" + seedHeader + "\r\n" + seedRowCPP + "\r\n\r\n" + seedRowUCPP + "\r\n")},
		{name: "delta-delete", delta: true, data: b("NHS_Number,Plan_Type,Action,local_id\n9990276579,LAC,delete,\n999-027-5831,CPP,UPSERT,C-1\n,,,\n")},
		{name: "header-only", data: b(seedHeader + "\n")},
		{name: "empty", data: nil},
		{name: "bom-only", data: b("\uFEFF")},
		{name: "partial-bom", data: []byte{0xEF, 0xBB}},
		{name: "nul", data: b(seedHeader + "\n9990276579,CPP,2026-03-02,,,C-1\x00,Smith,Amy,\n")},
		{name: "invalid-utf8", data: b(seedHeader + "\n9990276579,CPP,2026-03-02,,,C-1,Sm\xffith,Amy,\n")},
		{name: "truncated-rune", data: b(seedHeader + "\n9990276579,CPP,2026-03-02,,,C-1,Zo\xc3")},
		{name: "huge-quoted-field-start", data: b(seedHeader + "\n\"" + strings.Repeat("x", 100_000))},
		{name: "quote-never-closed-lines", data: b(seedHeader + "\n" + seedRowCPP + "\n\"" + strings.Repeat("a,b\n", 5_000))},
		{name: "10000-columns-header", data: b(strings.Join(manyCols, ",") + "\n" + strings.Join(manyVals, ",") + "\n")},
		{name: "10000-known-columns", data: b(strings.Repeat("nhs_number,", 10_000) + "plan_type\n")},
		{name: "formula-cells", data: b(seedHeader + "\n" + strings.TrimSuffix(strings.Repeat("\""+strings.ReplaceAll(formula, "\"", "\"\"")+"\",", 9), ",") + "\n")},
		{name: "wrong-field-count", data: b(seedHeader + "\n9990276579,CPP\n")},
		{name: "bare-quote", data: b(seedHeader + "\n9990276579,CPP,2026-03-02,,,C\"1,Smith,Amy,\n")},
		{name: "cr-only", data: b(seedHeader + "\r" + seedRowCPP + "\r")},
		{name: "missing-required", data: b("nhs_number,plan_type\n9990276579,CPP\n")},
		{name: "unknown-column", data: b(seedHeader + ",colour\n" + seedRowCPP + ",red\n")},
		{name: "bad-cells", data: b(seedHeader + ",action\n" +
			"0000000000,CPP,2026-03-02,,,C-1,,,,\n" +
			"999027657X,CPP,2026-03-02,,,C-1,,,,\n" +
			"9990276579,CIN,2026-03-02,,,C-1,,,,\n" +
			"9990276579,LAC,31/02/2026,,,C-1,,,,\n" +
			"9990276579,LAC,2026-03-02,2026-01-01,,C-1,,,,\n" +
			"9990276579,LAC,2027-03-02,,,C-1,,,,\n" +
			"9990276579,UCPP,2026-03-02,,,C-1,,,,\n" +
			"9990276579,CPP,2026-03-02,,,\x01,,,,\n" +
			"9990276579,CPP,2026-03-02,,,C-1,,,,UPSERT\n" +
			"9990276579,CPP,2026-03-02,,,C-1,,,not a date,\n" +
			"9990276579,CPP,2026-03-02,,,C-1," + strings.Repeat("é", 101) + ",,,\n" +
			"9990276579,CPP,2026-03-02,,2026-12-01,C-1,,,,\n")},
		{name: "many-blank-lines", data: b(seedHeader + strings.Repeat("\n", 10_000) + seedRowCPP)},
		{name: "quoted-newlines", data: b(seedHeader + "\n9990276579,CPP,2026-03-02,,,\"C-\r\n1\",\"a\nb\",Amy,\n")},
		{name: "utf16-bom", data: b("\xff\xfen\x00h\x00s\x00")},
	}
}

func xmlSeeds() []fuzzSeed {
	b := func(s string) []byte { return []byte(s) }
	laughs := `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
` + seedXMLRoot + `<Plan><NHSNumber>&lol9;</NHSNumber></Plan></CPISReturn>`
	external := `<?xml version="1.0"?>
<!DOCTYPE CPISReturn [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
` + seedXMLRoot + `<Plan><FamilyName>&xxe;</FamilyName></Plan></CPISReturn>`
	manyAttrs := `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="FULL" extractDate="2026-11-21"`
	for i := range 5_000 {
		manyAttrs += fmt.Sprintf(` a%d="%d"`, i, i)
	}
	manyAttrs += `></CPISReturn>`
	return []fuzzSeed{
		{name: "full", data: b(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + seedXMLRoot + "\n  " + seedXMLPlan + "\n  " +
			`<Plan><NHSNumber> 999 027 5831 </NHSNumber><PlanType>UCPP</PlanType><StartDate>2/3/2026</StartDate><DueDate>2026-12-01</DueDate>` +
			`<LocalId>C-&lt;2&gt;</LocalId><FamilyName>O&apos;Brien &amp; Sons</FamilyName><GivenName><![CDATA[Zoë]]></GivenName><!-- c --><?pi x?></Plan>` +
			"\n  <Plan/>\n</CPISReturn>\n")},
		{name: "delta-delete", delta: true, data: b(seedXMLDelta + `<Plan><Action>DELETE</Action><NHSNumber>9990276579</NHSNumber><PlanType>LAC</PlanType></Plan>` +
			`<Plan><Action>upsert</Action><NHSNumber>9990276579</NHSNumber><PlanType>CPP</PlanType><StartDate>2026-01-01</StartDate><EndDate>2026-02-01</EndDate><LocalId>x</LocalId></Plan></CPISReturn>`)},
		{name: "prefixed-bom", data: b("\uFEFF<r:CPISReturn xmlns:r=\"urn:cpis:return:1\" la=\"841\" kind=\"full\" extractDate=\"2026-11-21\"><r:Plan><r:LocalId>C-1</r:LocalId></r:Plan></r:CPISReturn>")},
		{name: "empty", data: nil},
		{name: "billion-laughs", data: b(laughs)},
		{name: "external-entity", data: b(external)},
		{name: "undeclared-entity", data: b(seedXMLRoot + `<Plan><NHSNumber>&lol;</NHSNumber></Plan></CPISReturn>`)},
		{name: "char-refs", data: b(seedXMLRoot + `<Plan><NHSNumber>&#57;&#x39;9&#0;</NHSNumber></Plan></CPISReturn>`)},
		{name: "deeply-nested-root", data: b(strings.Repeat("<a>", 10_000) + strings.Repeat("</a>", 10_000))},
		{name: "deeply-nested-field", data: b(seedXMLRoot + "<Plan><NHSNumber>" + strings.Repeat("<x>", 10_000))},
		{name: "deeply-nested-namespaced", data: b(seedXMLRoot + strings.Repeat(`<Plan xmlns:p="urn:p">`, 5_000))},
		{name: "nul", data: b(seedXMLRoot + "<Plan><LocalId>C\x001</LocalId></Plan></CPISReturn>")},
		{name: "invalid-utf8", data: b(seedXMLRoot + "<Plan><LocalId>C\xfe1</LocalId></Plan></CPISReturn>")},
		{name: "utf16-declared", data: b(`<?xml version="1.0" encoding="UTF-16"?>` + seedXMLRoot + `</CPISReturn>`)},
		{name: "latin1-declared", data: b(`<?xml version="1.0" encoding="ISO-8859-1"?>` + seedXMLRoot + `</CPISReturn>`)},
		{name: "unclosed", data: b(seedXMLRoot + seedXMLPlan + "<Plan><NHSNumber>9990276579")},
		{name: "text-after-root", data: b(seedXMLRoot + "</CPISReturn>trailing" + seedXMLPlan)},
		{name: "two-roots", data: b(seedXMLRoot + "</CPISReturn>" + seedXMLRoot + "</CPISReturn>")},
		{name: "wrong-namespace", data: b(`<CPISReturn xmlns="urn:cpis:return:2" la="841" kind="FULL" extractDate="2026-11-21"></CPISReturn>`)},
		{name: "root-mismatch", data: b(`<CPISReturn xmlns="urn:cpis:return:1" la="842" kind="DELTA" extractDate="21/11/2026" la="841"/>`)},
		{name: "repeated-element", data: b(seedXMLRoot + `<Plan><LocalId>a</LocalId><LocalId>b</LocalId></Plan></CPISReturn>`)},
		{name: "unknown-element", data: b(seedXMLRoot + `<Plan><Colour>red</Colour></Plan><Other/></CPISReturn>`)},
		{name: "5000-attributes", data: b(manyAttrs)},
		{name: "long-text", data: b(seedXMLRoot + "<Plan><FamilyName>" + strings.Repeat("a", 100_000) + "</FamilyName></Plan></CPISReturn>")},
		{name: "long-comment", data: b(seedXMLRoot + "<!--" + strings.Repeat("-x", 50_000))},
		{name: "cdata-unclosed", data: b(seedXMLRoot + "<Plan><LocalId><![CDATA[" + strings.Repeat("]", 10_000))},
		{name: "formula-cells", data: b(seedXMLRoot + `<Plan><NHSNumber>=1+1</NHSNumber><PlanType>@SUM(A1)</PlanType><StartDate>+2026</StartDate><LocalId>-C</LocalId><FamilyName>=HYPERLINK("http://x","y")</FamilyName></Plan></CPISReturn>`)},
	}
}

func nameSeeds() []string {
	return []string{
		"CPIS_841_FULL_20261121.csv",
		"cpis_841_delta_20261121_Run-2.XML.GZ",
		"CPIS_841_FULL_20240229.csv.gz",
		"CPIS_841_FULL_20230229.csv",
		"CPIS_841_FULL_20261121_.csv",
		"CPIS_841_FULL_20261121_a_b.csv",
		"CPIS_841_FULL_2026112.csv",
		"CPIS_84_FULL_20261121.csv",
		"CPIS_841_FULL_+0261121.csv",
		"CPIS_841_FULL_20261121." + strings.Repeat("x", 60) + ".csv",
		"CPIS_841_FULL_20261121_" + strings.Repeat("x", 51) + ".csv",
		"CPIS_841_FULL_20261121.xlsx",
		"CPIS 841 FULL 20261121.csv",
		"CPIS_841_FULL_20261121_é.csv",
		"CPIS_841_FULL_20261121.csv\x00",
		"CPIS_841_FULL_20261121.\xff",
		".gz",
		"",
	}
}
