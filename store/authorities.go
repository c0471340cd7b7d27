package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Authority is a local authority with children's social care duties.
type Authority struct {
	Code           string `json:"la_code"`
	GSS            string `json:"gss_code"`
	Name           string `json:"name"`
	Region         string `json:"region"`
	MailboxID      string `json:"mailbox_id"`
	EmergencyPhone string `json:"emergency_phone"`
	OfficePhone    string `json:"office_phone,omitempty"`
}

// ValidLACode reports whether code has the form of an LA code: three
// digits (store/domain.md, "Local authorities and mailboxes").
func ValidLACode(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := range 3 {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// PutAuthority adds or replaces an LA, and names it in the schema record.
func (t *Tx) PutAuthority(a Authority) error {
	a.MailboxID = strings.ToUpper(a.MailboxID)
	if err := putJSON(t.b(bAuthorities), []byte(a.Code), a); err != nil {
		return fmt.Errorf("put authority %s: %w", a.Code, err)
	}
	meta := t.b(bMeta)
	codes, err := decodeCodes(meta.Get(kAuthorities))
	if err != nil {
		return fmt.Errorf("put authority %s: %w", a.Code, err)
	}
	i, found := slices.BinarySearch(codes, a.Code)
	if found {
		return nil
	}
	if err := putCodes(meta, slices.Insert(codes, i, a.Code)); err != nil {
		return fmt.Errorf("put authority %s: %w", a.Code, err)
	}
	return nil
}

// decodeCodes reads the LA codes of the schema record (meta/authorities:
// a JSON array of codes in order); nil reads as none.
func decodeCodes(v []byte) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	var codes []string
	if err := json.Unmarshal(v, &codes); err != nil {
		return nil, fmt.Errorf("schema record's authorities: %w", err)
	}
	return codes, nil
}

// putCodes writes the LA codes of the schema record.
func putCodes(meta *bolt.Bucket, codes []string) error {
	if codes == nil {
		codes = []string{}
	}
	slices.Sort(codes)
	return putJSON(meta, kAuthorities, codes)
}

// Authority returns the LA with code.
func (t *Tx) Authority(code string) (Authority, bool, error) {
	var a Authority
	ok, err := getJSON(t.b(bAuthorities), []byte(code), &a)
	return a, ok, err
}

// Authorities returns every LA, by code.
func (t *Tx) Authorities() ([]Authority, error) {
	var out []Authority
	err := t.b(bAuthorities).ForEach(func(k, v []byte) error {
		var a Authority
		if _, err := getJSON(t.b(bAuthorities), k, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}
