package store

import (
	"fmt"
	"strings"
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

// PutAuthority adds or replaces an LA.
func (t *Tx) PutAuthority(a Authority) error {
	a.MailboxID = strings.ToUpper(a.MailboxID)
	if err := putJSON(t.b(bAuthorities), []byte(a.Code), a); err != nil {
		return fmt.Errorf("put authority %s: %w", a.Code, err)
	}
	return nil
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
