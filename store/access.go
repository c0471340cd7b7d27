package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"cpis/store/caldate"
	"cpis/store/plans"
)

// Buckets of health lookups (doc.go).
var (
	bOrgs        = bucket("orgs")
	bOrgTokens   = bucket("org_tokens")
	bHistory     = bucket("history")
	bOwed        = bucket("owed_notifications")
	bNotified    = bucket("notified_days")
	bLookupAudit = bucket("lookup_audit")
	bPrior       = bucket("demographics_prior")
)

// HistoryLimit is how many access-history entries a person keeps.
const HistoryLimit = 25

// Org is a health organisation allowed to call the HTTP API.
type Org struct {
	ODS       string    `json:"ods"`
	Name      string    `json:"name"`
	TokenHash string    `json:"token_sha256"`
	AddedAt   time.Time `json:"added_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// TokenHash returns the hex SHA-256 of an API token: the store keeps only
// this.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// PutOrg adds or replaces an organisation and its token hash; a replaced
// token stops working at once.
func (t *Tx) PutOrg(o Org) error {
	if old, ok, err := t.Org(o.ODS); err != nil {
		return err
	} else if ok {
		if err := t.b(bOrgTokens).Delete([]byte(old.TokenHash)); err != nil {
			return err
		}
	}
	if o.RevokedAt.IsZero() {
		if err := t.b(bOrgTokens).Put([]byte(o.TokenHash), []byte(o.ODS)); err != nil {
			return err
		}
	}
	return putJSON(t.b(bOrgs), []byte(o.ODS), o)
}

// Org returns the organisation with ODS code ods.
func (t *Tx) Org(ods string) (Org, bool, error) {
	var o Org
	ok, err := getJSON(t.b(bOrgs), []byte(ods), &o)
	return o, ok, err
}

// Orgs returns every organisation, by ODS code.
func (t *Tx) Orgs() ([]Org, error) {
	var out []Org
	err := t.b(bOrgs).ForEach(func(k, v []byte) error {
		var o Org
		if err := jsonUnmarshal(v, &o); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// OrgByToken returns the live organisation whose token hashes to hash.
func (t *Tx) OrgByToken(hash string) (Org, bool, error) {
	ods := t.b(bOrgTokens).Get([]byte(hash))
	if ods == nil {
		return Org{}, false, nil
	}
	o, ok, err := t.Org(string(ods))
	if !ok || err != nil || !o.RevokedAt.IsZero() {
		return Org{}, false, err
	}
	return o, true, nil
}

// HistoryEntry is one entry of a person's access history (batch/access/access.md, "Access history").
type HistoryEntry struct {
	AccessedAt time.Time `json:"accessed_at"`
	OrgCode    string    `json:"org_code"`
	OrgName    string    `json:"org_name"`
	Setting    string    `json:"setting"`
	UserName   string    `json:"user_name"`
	UserRole   string    `json:"user_role"`
}

func timeKey(t time.Time) []byte { return u64(uint64(t.UnixNano())) }

// History returns the access history of nhs, newest first.
func (t *Tx) History(nhs string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	c := t.b(bHistory).Cursor()
	prefix := []byte(nhs)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var e HistoryEntry
		if err := jsonUnmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("decode history %x: %w", k, err)
		}
		out = append(out, e)
	}
	// Keys sort by time, then by the order entries were added: reversed,
	// newest first, the latest of one second before the others.
	slices.Reverse(out)
	return out, nil
}

// AddHistory adds e to nhs's history and keeps only the newest
// HistoryLimit entries.
func (t *Tx) AddHistory(nhs string, e HistoryEntry) error {
	b := t.b(bHistory)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	if err := putJSON(b, concat([]byte(nhs), timeKey(e.AccessedAt), u64(seq)), e); err != nil {
		return err
	}
	var keys [][]byte
	c := b.Cursor()
	prefix := []byte(nhs)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for len(keys) > HistoryLimit { // keys are oldest first
		if err := b.Delete(keys[0]); err != nil {
			return err
		}
		keys = keys[1:]
	}
	return nil
}

// DeleteHistory removes the whole access history of nhs.
func (t *Tx) DeleteHistory(nhs string) error {
	return deletePrefix(t.b(bHistory), []byte(nhs))
}

// PurgeHistories removes the access history of every person among the
// removed plans' numbers who has no plan left (domain.md: a history lives
// only as long as a plan of its person).
func (t *Tx) PurgeHistories(removed []plans.Key) error {
	seen := map[string]bool{}
	for _, k := range removed {
		if seen[k.NHS] {
			continue
		}
		seen[k.NHS] = true
		left, err := t.PlansOf(k.NHS)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			if err := t.DeleteHistory(k.NHS); err != nil {
				return fmt.Errorf("purge history: %w", err)
			}
		}
	}
	return nil
}

// Notification is one row owed to an LA's daily access file, fixed when the
// access happens (batch/access/access.md, "Daily access notifications").
type Notification struct {
	AccessedAt time.Time `json:"accessed_at"`
	NHSNumber  string    `json:"nhs_number"`
	LocalID    string    `json:"local_id"`
	PlanType   string    `json:"plan_type"`
	OrgCode    string    `json:"org_code"`
	OrgName    string    `json:"org_name"`
	Setting    string    `json:"setting"`
	UserName   string    `json:"user_name"`
	UserRole   string    `json:"user_role"`
}

// Owe records that la is owed n in the access file of the London day of
// n.AccessedAt.
func (t *Tx) Owe(la string, n Notification) error {
	b := t.b(bOwed)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	day := caldate.InLondon(n.AccessedAt).Compact()
	return putJSON(b, concat([]byte(day), []byte(la), timeKey(n.AccessedAt), u64(seq)), n)
}

// Owed returns the rows owed to la for day, in the order of batch/access/access.md:
// instant of access, then NHS number, plan type, org code, user name.
func (t *Tx) Owed(day caldate.Date, la string) ([]Notification, error) {
	var out []Notification
	prefix := concat([]byte(day.Compact()), []byte(la))
	c := t.b(bOwed).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var n Notification
		if err := jsonUnmarshal(v, &n); err != nil {
			return nil, fmt.Errorf("decode notification %x: %w", k, err)
		}
		out = append(out, n)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case !a.AccessedAt.Equal(b.AccessedAt):
			return a.AccessedAt.Before(b.AccessedAt)
		case a.NHSNumber != b.NHSNumber:
			return a.NHSNumber < b.NHSNumber
		case a.PlanType != b.PlanType:
			return a.PlanType < b.PlanType
		case a.OrgCode != b.OrgCode:
			return a.OrgCode < b.OrgCode
		}
		return a.UserName < b.UserName
	})
	return out, nil
}

// DeleteOwed removes the rows owed to la for day (once written).
func (t *Tx) DeleteOwed(day caldate.Date, la string) error {
	return deletePrefix(t.b(bOwed), concat([]byte(day.Compact()), []byte(la)))
}

// OwedDays returns the days for which some LA is owed rows, oldest first.
func (t *Tx) OwedDays() ([]caldate.Date, error) {
	var days []caldate.Date
	c := t.b(bOwed).Cursor()
	for k, _ := c.First(); k != nil; {
		d, err := caldate.ParseCompact(string(k[:8]))
		if err != nil {
			return nil, fmt.Errorf("owed key %x: %w", k, err)
		}
		days = append(days, d)
		k, _ = c.Seek(concat(k[:8], []byte{0xff}))
	}
	return days, nil
}

// DayFile records an access file for one (day, LA).
type DayFile struct {
	MessageID string    `json:"message_id"`
	File      string    `json:"file"`
	Rows      int       `json:"rows"`
	DecidedAt time.Time `json:"decided_at"`
	WrittenAt time.Time `json:"written_at,omitzero"`
}

// DayFile returns what is recorded of la's access file for day.
func (t *Tx) DayFile(day caldate.Date, la string) (DayFile, bool, error) {
	var f DayFile
	ok, err := getJSON(t.b(bNotified), concat([]byte(day.Compact()), []byte(la)), &f)
	return f, ok, err
}

// PutDayFile records la's access file for day.
func (t *Tx) PutDayFile(day caldate.Date, la string, f DayFile) error {
	return putJSON(t.b(bNotified), concat([]byte(day.Compact()), []byte(la)), f)
}

// DayFiles calls fn for every recorded access file, by day then LA.
func (t *Tx) DayFiles(fn func(day caldate.Date, la string, f DayFile) error) error {
	return t.b(bNotified).ForEach(func(k, v []byte) error {
		day, err := caldate.ParseCompact(string(k[:8]))
		if err != nil {
			return err
		}
		var f DayFile
		if err := jsonUnmarshal(v, &f); err != nil {
			return err
		}
		return fn(day, string(k[8:]), f)
	})
}

// LookupAudit is the audit record of one lookup or refusal (batch/access/access.md, "Durability and audit"):
// who, when, what, outcome. It keeps the NHS number: it is the record of
// who looked at whom.
type LookupAudit struct {
	At        time.Time `json:"at"`
	OrgCode   string    `json:"org_code,omitempty"`
	OrgName   string    `json:"org_name,omitempty"`
	Setting   string    `json:"setting,omitempty"`
	UserName  string    `json:"user_name,omitempty"`
	UserRole  string    `json:"user_role,omitempty"`
	NHSNumber string    `json:"nhs_number,omitempty"`
	Via       string    `json:"via"`     // "http" or "cli"
	Outcome   string    `json:"outcome"` // alert, no-alert, refused
	Silent    bool      `json:"silent,omitempty"`
	Status    int       `json:"status"`
	Field     string    `json:"field,omitempty"`
	Plans     int       `json:"plans,omitempty"`
	Notified  int       `json:"notified,omitempty"`
}

// AddLookupAudit appends a lookup audit record.
func (t *Tx) AddLookupAudit(a LookupAudit) error {
	b := t.b(bLookupAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	a.At = a.At.UTC()
	return putJSON(b, concat(timeKey(a.At), u64(seq)), a)
}

// LookupAudits calls fn for each lookup audit record at or after since,
// oldest first.
func (t *Tx) LookupAudits(since time.Time, fn func(LookupAudit) error) error {
	return eachSince(t.b(bLookupAudit), since, func(k, v []byte) error {
		var a LookupAudit
		if err := jsonUnmarshal(v, &a); err != nil {
			return fmt.Errorf("decode lookup audit %x: %w", k, err)
		}
		return fn(a)
	})
}

// PurgeLookupAudits removes lookup audit records before cutoff.
func (t *Tx) PurgeLookupAudits(cutoff time.Time) (int, error) {
	return purgeBefore(t.b(bLookupAudit), cutoff)
}

// eachSince calls fn for each record of b, a bucket keyed by time(8)
// then more, at or after since, oldest first.
func eachSince(b *bolt.Bucket, since time.Time, fn func(k, v []byte) error) error {
	c := b.Cursor()
	k, v := c.First()
	if since.After(time.Unix(0, 0)) { // keys are unsigned: earlier times would wrap
		k, v = c.Seek(timeKey(since))
	}
	for ; k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// purgeBefore removes the records of b, a bucket keyed by time(8) then
// more, before cutoff, and reports how many. Keys are collected, then
// deleted after the cursor loop.
func purgeBefore(b *bolt.Bucket, cutoff time.Time) (int, error) {
	c := b.Cursor()
	var keys [][]byte
	end := timeKey(cutoff)
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) < 0; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("purge: %w", err)
		}
	}
	return len(keys), nil
}

// Prior returns the numbers that lead to nhs through superseded_by,
// transitively (domain.md): plans held under them show on a lookup of nhs.
func (t *Tx) Prior(nhs string) []string {
	var out []string
	seen := map[string]bool{nhs: true}
	queue := []string{nhs}
	for len(queue) > 0 && len(out) < 1000 {
		cur := queue[0]
		queue = queue[1:]
		c := t.b(bPrior).Cursor()
		prefix := []byte(cur)
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			p := string(k[10:])
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
				queue = append(queue, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
