package mesh

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The seed corpus of FuzzParseControl, under testdata/fuzz.
//go:generate go run gen_fuzz_corpus.go

// MaxControlSize is the largest control file ParseControl reads; a real
// one is well under 1 KiB.
const MaxControlSize = 64 << 10

// statusTime is the layout of a StatusRecord DateTime (always UTC).
const statusTime = "20060102150405"

// Control is a MESH DTSControl control file (mailboxes.md, "Messages").
// Compress, Encrypted and IsCompressed are the file's Y/N flags.
type Control struct {
	Version      string
	AddressType  string
	MessageType  string
	From         string // From_DTS: the sending mailbox
	To           string // To_DTS: the receiving mailbox
	Subject      string
	LocalID      string // LocalId
	DTSID        string // DTSId: the message ID
	WorkflowID   string // WorkflowId
	Compress     bool
	Encrypted    bool
	IsCompressed bool
	Status       *StatusRecord // nil when the file has none
}

// StatusRecord is a control file's StatusRecord. DateTime is written as
// yyyyMMddHHmmss in UTC, so it carries whole seconds only.
type StatusRecord struct {
	DateTime    time.Time
	Event       string
	Status      string
	StatusCode  string
	Description string
}

// xmlControl is the wire form; its field order is the order Marshal writes,
// that of the example in mailboxes.md. The Y/N fields are pointers so that
// ParseControl can tell an absent element from an empty one.
type xmlControl struct {
	XMLName      xml.Name         `xml:"DTSControl"`
	Version      string           `xml:"Version"`
	AddressType  string           `xml:"AddressType"`
	MessageType  string           `xml:"MessageType"`
	From         string           `xml:"From_DTS"`
	To           string           `xml:"To_DTS"`
	Subject      string           `xml:"Subject"`
	LocalID      string           `xml:"LocalId"`
	DTSID        string           `xml:"DTSId"`
	WorkflowID   string           `xml:"WorkflowId"`
	Compress     *string          `xml:"Compress"`
	Encrypted    *string          `xml:"Encrypted"`
	IsCompressed *string          `xml:"IsCompressed"`
	Status       *xmlStatusRecord `xml:"StatusRecord"`
}

type xmlStatusRecord struct {
	DateTime    string `xml:"DateTime"`
	Event       string `xml:"Event"`
	Status      string `xml:"Status"`
	StatusCode  string `xml:"StatusCode"`
	Description string `xml:"Description"`
}

// ParseControl reads a DTSControl control file. Every error wraps
// ErrBadControl: more than MaxControlSize bytes (also ErrTooLarge), XML
// that is not well-formed, a DTD or entity directive, a root other than
// DTSControl, an element given twice, a Y/N flag other than Y or N (any
// case) or a StatusRecord DateTime that is not yyyyMMddHHmmss. An absent
// Y/N element means N. Values are trimmed of surrounding white space.
func ParseControl(r io.Reader) (Control, error) {
	b, err := io.ReadAll(LimitReader(r, MaxControlSize))
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return Control{}, fmt.Errorf("%w: %w", ErrBadControl, err)
		}
		return Control{}, fmt.Errorf("read control file: %w", err)
	}
	if err := scanControl(b); err != nil {
		return Control{}, fmt.Errorf("%w: %w", ErrBadControl, err)
	}
	var x xmlControl
	if err := xml.Unmarshal(b, &x); err != nil {
		return Control{}, fmt.Errorf("%w: %w", ErrBadControl, err)
	}
	c := Control{
		Version:     strings.TrimSpace(x.Version),
		AddressType: strings.TrimSpace(x.AddressType),
		MessageType: strings.TrimSpace(x.MessageType),
		From:        strings.TrimSpace(x.From),
		To:          strings.TrimSpace(x.To),
		Subject:     strings.TrimSpace(x.Subject),
		LocalID:     strings.TrimSpace(x.LocalID),
		DTSID:       strings.TrimSpace(x.DTSID),
		WorkflowID:  strings.TrimSpace(x.WorkflowID),
	}
	for _, f := range []struct {
		name string
		v    *string
		dst  *bool
	}{
		{"Compress", x.Compress, &c.Compress},
		{"Encrypted", x.Encrypted, &c.Encrypted},
		{"IsCompressed", x.IsCompressed, &c.IsCompressed},
	} {
		if f.v == nil {
			continue
		}
		switch v := strings.TrimSpace(*f.v); {
		case strings.EqualFold(v, "Y"):
			*f.dst = true
		case strings.EqualFold(v, "N"):
		default:
			return Control{}, fmt.Errorf("%w: %s is %s, not Y or N", ErrBadControl, f.name, quote(v))
		}
	}
	if s := x.Status; s != nil {
		rec := &StatusRecord{
			Event:       strings.TrimSpace(s.Event),
			Status:      strings.TrimSpace(s.Status),
			StatusCode:  strings.TrimSpace(s.StatusCode),
			Description: strings.TrimSpace(s.Description),
		}
		if v := strings.TrimSpace(s.DateTime); v != "" {
			t, err := time.ParseInLocation(statusTime, v, time.UTC)
			if err != nil {
				return Control{}, fmt.Errorf("%w: StatusRecord DateTime %s is not yyyyMMddHHmmss", ErrBadControl, quote(v))
			}
			rec.DateTime = t
		}
		c.Status = rec
	}
	return c, nil
}

// scanControl checks what xml.Unmarshal lets through: directives (a DTD
// could declare entities), a second root element, text outside the root and
// an element of DTSControl given twice.
func scanControl(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	seen := map[string]bool{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("DTD or entity directive not allowed")
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return errors.New("more than one root element")
				}
			}
			if depth == 1 {
				if seen[t.Name.Local] {
					return fmt.Errorf("element %s given twice", quote(t.Name.Local))
				}
				seen[t.Name.Local] = true
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text outside the root element")
			}
		}
	}
	if roots == 0 {
		return errors.New("no root element")
	}
	return nil
}

// Marshal returns c as a DTSControl file: an XML declaration, then the
// elements indented in the order of the example in mailboxes.md, every
// element written (empty when unset), Y/N flags as Y or N, and the
// StatusRecord last when c has one.
func (c Control) Marshal() []byte {
	x := xmlControl{
		Version:      c.Version,
		AddressType:  c.AddressType,
		MessageType:  c.MessageType,
		From:         c.From,
		To:           c.To,
		Subject:      c.Subject,
		LocalID:      c.LocalID,
		DTSID:        c.DTSID,
		WorkflowID:   c.WorkflowID,
		Compress:     yn(c.Compress),
		Encrypted:    yn(c.Encrypted),
		IsCompressed: yn(c.IsCompressed),
	}
	if s := c.Status; s != nil {
		x.Status = &xmlStatusRecord{
			Event:       s.Event,
			Status:      s.Status,
			StatusCode:  s.StatusCode,
			Description: s.Description,
		}
		if !s.DateTime.IsZero() {
			x.Status.DateTime = s.DateTime.UTC().Format(statusTime)
		}
	}
	b, err := xml.MarshalIndent(x, "", "  ")
	if err != nil {
		// Only strings and pointers to strings: encoding cannot fail.
		panic("mesh: marshal control: " + err.Error())
	}
	out := make([]byte, 0, len(xml.Header)+len(b)+1)
	out = append(out, xml.Header...)
	out = append(out, b...)
	return append(out, '\n')
}

func yn(b bool) *string {
	s := "N"
	if b {
		s = "Y"
	}
	return &s
}

// OutgoingControl returns the control file of a message the hub writes
// (mailboxes.md, "Outgoing"): from CPISHUB01 to the mailbox to, with the
// workflow, the message ID as DTSId, the data file's name as LocalId, a
// short subject, and one StatusRecord TRANSFER/SUCCESS/00 dated now.
// IsCompressed is Y when fileName ends ".gz"; Compress and Encrypted are N.
func OutgoingControl(to, workflow, messageID, fileName, subject string, now time.Time) Control {
	return Control{
		Version:      "1.0",
		AddressType:  "DTS",
		MessageType:  "Data",
		From:         HubMailbox,
		To:           to,
		Subject:      subject,
		LocalID:      fileName,
		DTSID:        messageID,
		WorkflowID:   workflow,
		IsCompressed: strings.HasSuffix(strings.ToLower(fileName), ".gz"),
		Status: &StatusRecord{
			DateTime:    now.UTC().Truncate(time.Second),
			Event:       "TRANSFER",
			Status:      "SUCCESS",
			StatusCode:  "00",
			Description: "Transferred to recipient mailbox",
		},
	}
}

// CheckIncoming checks the control file of a return that arrived in the
// mailbox mailboxID, whose data file name says gzip (".gz") when
// gzipByName. The error, which wraps ErrBadControl, names the first check
// that fails, in the order of mailboxes.md: From_DTS is not the mailbox
// (compared case-insensitively), To_DTS is not CPISHUB01, WorkflowId is not
// CPIS_LA_UPLOAD, DTSId is not a message ID, Encrypted is Y, IsCompressed
// disagrees with the file name. The caller answers F002.
func (c Control) CheckIncoming(mailboxID string, gzipByName bool) error {
	switch {
	case !equalFoldASCII(c.From, mailboxID):
		return fmt.Errorf("%w: From_DTS %s is not this mailbox, %s", ErrBadControl, quote(c.From), mailboxID)
	case !equalFoldASCII(c.To, HubMailbox):
		return fmt.Errorf("%w: To_DTS %s is not %s", ErrBadControl, quote(c.To), HubMailbox)
	case c.WorkflowID != WorkflowUpload:
		return fmt.Errorf("%w: WorkflowId %s is not %s", ErrBadControl, quote(c.WorkflowID), WorkflowUpload)
	case !ValidMessageID(c.DTSID):
		return fmt.Errorf("%w: DTSId %s is not a message ID", ErrBadControl, quote(c.DTSID))
	case c.Encrypted:
		return fmt.Errorf("%w: Encrypted is Y", ErrBadControl)
	case c.IsCompressed && !gzipByName:
		return fmt.Errorf("%w: IsCompressed is Y but the file name does not end .gz", ErrBadControl)
	case !c.IsCompressed && gzipByName:
		return fmt.Errorf("%w: IsCompressed is N but the file name ends .gz", ErrBadControl)
	}
	return nil
}

// quote quotes a value from a control file for an error message, cut to 40
// characters so that a hostile file cannot flood a response.
func quote(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "..."
	}
	return fmt.Sprintf("%q", s)
}

// equalFoldASCII compares mailbox IDs ignoring ASCII case only: Unicode
// folding would let "CPIſHUB01" (long s) pass for the hub's mailbox.
func equalFoldASCII(a, b string) bool {
	for _, s := range []string{a, b} {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return false
			}
		}
	}
	return strings.EqualFold(a, b)
}
