package mesh_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// specExample is the incoming control file of mailboxes.md, as an LA's
// MESH client writes it (also a seed of the fuzz corpus: gen_fuzz_corpus.go).
var specExample = func() string {
	b, err := os.ReadFile(filepath.Join("testdata", "control", "example.xml"))
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func specControl() mesh.Control {
	return mesh.Control{
		Version:     "1.0",
		AddressType: "DTS",
		MessageType: "Data",
		From:        "LA841HC001",
		To:          "CPISHUB01",
		Subject:     "FULL return",
		LocalID:     "841-2026-11-21-01",
		DTSID:       "20261121013000123456_3F9A0C",
		WorkflowID:  "CPIS_LA_UPLOAD",
	}
}

func TestParseControl(t *testing.T) {
	got, err := mesh.ParseControl(strings.NewReader(specExample))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(specControl(), got); diff != "" {
		t.Errorf("ParseControl (-want +got):\n%s", diff)
	}
}

func TestParseControlFlags(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want [3]bool // Compress, Encrypted, IsCompressed
	}{
		{"lower case", `<DTSControl><Compress>y</Compress><Encrypted>n</Encrypted><IsCompressed>Y</IsCompressed></DTSControl>`, [3]bool{true, false, true}},
		{"absent means N", `<DTSControl></DTSControl>`, [3]bool{}},
		{"white space", `<DTSControl><IsCompressed> Y
</IsCompressed></DTSControl>`, [3]bool{false, false, true}},
		{"declaration", `<?xml version="1.0" encoding="UTF-8"?><DTSControl><Encrypted>Y</Encrypted></DTSControl>`, [3]bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := mesh.ParseControl(strings.NewReader(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			if got := [3]bool{c.Compress, c.Encrypted, c.IsCompressed}; got != tt.want {
				t.Errorf("flags = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseControlErrors(t *testing.T) {
	tests := []struct {
		name    string
		xml     string
		tooBig  bool
		mention string // part of the message
	}{
		{"empty", ``, false, ""},
		{"not xml", `FULL return`, false, ""},
		{"not well-formed", `<DTSControl><Version>1.0</DTSControl>`, false, ""},
		{"wrong root", `<Control><Version>1.0</Version></Control>`, false, ""},
		{"two roots", `<DTSControl></DTSControl><DTSControl></DTSControl>`, false, "root"},
		{"text after root", `<DTSControl></DTSControl>junk`, false, "text"},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE DTSControl [<!ENTITY x "boom">]><DTSControl><Subject>&x;</Subject></DTSControl>`, false, "DTD"},
		{"external entity", `<!DOCTYPE DTSControl SYSTEM "file:///etc/passwd"><DTSControl/>`, false, "DTD"},
		{"undefined entity", `<DTSControl><Subject>&x;</Subject></DTSControl>`, false, ""},
		{"flag yes", `<DTSControl><Compress>Yes</Compress></DTSControl>`, false, "Compress"},
		{"flag empty", `<DTSControl><Encrypted></Encrypted></DTSControl>`, false, "Encrypted"},
		{"flag 1", `<DTSControl><IsCompressed>1</IsCompressed></DTSControl>`, false, "IsCompressed"},
		{"element twice", `<DTSControl><DTSId>a</DTSId><DTSId>b</DTSId></DTSControl>`, false, "twice"},
		{"bad status time", `<DTSControl><StatusRecord><DateTime>2026-11-21</DateTime></StatusRecord></DTSControl>`, false, "DateTime"},
		{"too large", `<DTSControl><Subject>` + strings.Repeat("a", mesh.MaxControlSize) + `</Subject></DTSControl>`, true, ""},
		{"charset", `<?xml version="1.0" encoding="ISO-8859-1"?><DTSControl/>`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mesh.ParseControl(strings.NewReader(tt.xml))
			if !errors.Is(err, mesh.ErrBadControl) {
				t.Fatalf("err = %v, want ErrBadControl", err)
			}
			if tt.tooBig != errors.Is(err, mesh.ErrTooLarge) {
				t.Errorf("err = %v, ErrTooLarge %v", err, tt.tooBig)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %q, want it to mention %q", err, tt.mention)
			}
		})
	}
}

func outgoing() mesh.Control {
	now := time.Date(2026, 11, 21, 1, 30, 7, 999999999, time.FixedZone("UTC+1", 3600))
	return mesh.OutgoingControl(mesh.MailboxID("841"), mesh.WorkflowUploadAck,
		"20261121003007999999_3F9A0C",
		"CPIS_841_RESPONSE_20261121_20261121003007999999_3F9A0C.csv",
		"Response to CPIS_841_FULL_20261121.csv & co", now)
}

func TestOutgoingControl(t *testing.T) {
	want := mesh.Control{
		Version:     "1.0",
		AddressType: "DTS",
		MessageType: "Data",
		From:        "CPISHUB01",
		To:          "LA841HC001",
		Subject:     "Response to CPIS_841_FULL_20261121.csv & co",
		LocalID:     "CPIS_841_RESPONSE_20261121_20261121003007999999_3F9A0C.csv",
		DTSID:       "20261121003007999999_3F9A0C",
		WorkflowID:  "CPIS_LA_UPLOAD_ACK",
		Status: &mesh.StatusRecord{
			DateTime:    time.Date(2026, 11, 21, 0, 30, 7, 0, time.UTC),
			Event:       "TRANSFER",
			Status:      "SUCCESS",
			StatusCode:  "00",
			Description: "Transferred to recipient mailbox",
		},
	}
	if diff := cmp.Diff(want, outgoing()); diff != "" {
		t.Errorf("OutgoingControl (-want +got):\n%s", diff)
	}
	gz := mesh.OutgoingControl("LA841HC001", mesh.WorkflowAccess, "20261121003007999999_3F9A0C", "x.csv.GZ", "", time.Now())
	if !gz.IsCompressed {
		t.Error("IsCompressed = false for a .gz file name")
	}
}

func TestControlMarshalGolden(t *testing.T) {
	tests := []struct {
		name string
		c    mesh.Control
	}{
		{"outgoing", outgoing()},
		{"incoming", specControl()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.Marshal()
			golden := filepath.Join("testdata", "control", tt.name+".xml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Marshal (-%s +got):\n%s", golden, diff)
			}
		})
	}
}

func TestControlRoundTrip(t *testing.T) {
	flags := specControl()
	flags.Compress, flags.Encrypted, flags.IsCompressed = true, true, true
	odd := mesh.Control{Subject: `<&"'> and ]]>`, LocalID: "a\tb"}
	for _, c := range []mesh.Control{outgoing(), specControl(), flags, odd, {}, {Status: &mesh.StatusRecord{}}} {
		got, err := mesh.ParseControl(bytes.NewReader(c.Marshal()))
		if err != nil {
			t.Fatalf("ParseControl(Marshal(%+v)): %v", c, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestCheckIncoming(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*mesh.Control)
		gzip    bool
		mention string // "" means no error
	}{
		{"good", func(*mesh.Control) {}, false, ""},
		{"mailbox any case", func(c *mesh.Control) { c.From, c.To = "la841hc001", "cpishub01" }, false, ""},
		{"gzip", func(c *mesh.Control) { c.IsCompressed = true }, true, ""},
		{"compress flag ignored", func(c *mesh.Control) { c.Compress = true }, false, ""},
		{"other mailbox", func(c *mesh.Control) { c.From = "LA842HC001" }, false, "From_DTS"},
		{"no sender", func(c *mesh.Control) { c.From = "" }, false, "From_DTS"},
		{"not to hub", func(c *mesh.Control) { c.To = "LA841HC001" }, false, "To_DTS"},
		{"workflow", func(c *mesh.Control) { c.WorkflowID = "CPIS_ACCESS_NOTIFICATION" }, false, "WorkflowId"},
		{"workflow case", func(c *mesh.Control) { c.WorkflowID = "cpis_la_upload" }, false, "WorkflowId"},
		{"bad message ID", func(c *mesh.Control) { c.DTSID = "20261121013000123456_3f9a0c" }, false, "DTSId"},
		{"no message ID", func(c *mesh.Control) { c.DTSID = "" }, false, "DTSId"},
		{"encrypted", func(c *mesh.Control) { c.Encrypted = true }, false, "Encrypted"},
		{"says gzip, name does not", func(c *mesh.Control) { c.IsCompressed = true }, false, "IsCompressed"},
		{"name says gzip", func(*mesh.Control) {}, true, "IsCompressed"},
		{"long value cut", func(c *mesh.Control) { c.From = strings.Repeat("A", 500) }, false, "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := specControl()
			tt.edit(&c)
			err := c.CheckIncoming("LA841HC001", tt.gzip)
			if tt.mention == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, mesh.ErrBadControl) || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err = %v, want ErrBadControl mentioning %q", err, tt.mention)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error of %d characters", len(err.Error()))
			}
		})
	}
}
