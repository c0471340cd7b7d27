package store

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unicode"

	bolt "go.etcd.io/bbolt"

	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

// MaxProblems bounds the problems a CheckReport lists; the rest are only
// counted.
const MaxProblems = 1000

// Problem is one thing wrong in a store: the bucket, the record's key in
// readable form (never the record), and what is wrong.
type Problem struct {
	Bucket string
	Key    string
	Text   string
}

// String is the problem as one line: "bucket key: text".
func (p Problem) String() string {
	if p.Key == "" {
		return p.Bucket + ": " + p.Text
	}
	return p.Bucket + " " + p.Key + ": " + p.Text
}

// CheckReport is what Check found.
type CheckReport struct {
	// Problems are the first MaxProblems problems, in the order found.
	Problems []Problem
	// Total is the number of problems, listed or not.
	Total int
	// Authorities, Plans, Messages and Outcomes count the records read.
	Authorities, Plans, Messages, Outcomes int
}

// OK reports whether the store has no problem.
func (r *CheckReport) OK() bool { return r.Total == 0 }

func (r *CheckReport) add(bucket []byte, key, format string, args ...any) {
	r.Total++
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, Problem{Bucket: string(bucket), Key: key, Text: fmt.Sprintf(format, args...)})
	}
}

// Check verifies the store: bbolt's own consistency check of the pages (in
// a write transaction, rolled back), then in one read transaction (a
// consistent view while writers go on) the hub's invariants (doc.go): the schema record names exactly the
// authorities held; every plan's key is well formed, its LA among the
// authorities and its plans_by_la entry there, and every index entry names
// a plan; every message decodes, names its LA, has a lifecycle state, and
// the message_ids, message_files and open_messages indexes agree with the
// messages both ways; every row outcome belongs to a message; every web
// user is well formed and every web session is a user's. The error is
// for a store that could not be read at all.
func (db *DB) Check() (*CheckReport, error) {
	inv := &CheckReport{}
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		(&checker{tx: tx, rep: inv}).run()
		return nil
	}); err != nil {
		return nil, err
	}
	// bbolt's page check runs in a write transaction, rolled back: in a
	// read transaction it compares the pages it sees with the freelist of
	// now, which moves with every later commit (false "freed" reports), and
	// it reads the freelist's maps while a writer changes them (a fatal
	// concurrent map access in bbolt 1.5 that would stop the daemon). Writers
	// wait for the page walk; readers, lookups among them, do not.
	tx, err := db.bolt.Begin(true)
	if err != nil {
		return nil, err
	}
	pages := pageProblems(tx)
	if err := tx.Rollback(); err != nil {
		return nil, err
	}
	rep := &CheckReport{Authorities: inv.Authorities, Plans: inv.Plans, Messages: inv.Messages, Outcomes: inv.Outcomes}
	for _, err := range pages {
		rep.add([]byte("bbolt"), "", "%v", err)
	}
	for _, p := range inv.Problems {
		rep.add([]byte(p.Bucket), p.Key, "%s", p.Text)
	}
	rep.Total += inv.Total - len(inv.Problems)
	return rep, nil
}

// pageProblems is bbolt's consistency check of the pages tx sees.
func pageProblems(tx *bolt.Tx) []error {
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, err)
	}
	return errs
}

type checker struct {
	tx  *bolt.Tx
	rep *CheckReport
	las map[string]bool
}

// run checks the invariants; a page that cannot be read is a problem, not
// a crash.
func (c *checker) run() {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			c.rep.add([]byte("bbolt"), "", "reading the store failed: %v", r)
		}
	}()
	for _, name := range allBuckets {
		if c.tx.Bucket(name) == nil {
			c.rep.add(name, "", "bucket missing")
		}
	}
	if c.tx.Bucket(bMeta) == nil || c.tx.Bucket(bAuthorities) == nil {
		return
	}
	c.authorities()
	if c.tx.Bucket(bPlans) != nil && c.tx.Bucket(bPlansByLA) != nil {
		c.plans()
	}
	if c.tx.Bucket(bMessages) != nil && c.tx.Bucket(bMessageIDs) != nil && c.tx.Bucket(bMessageFiles) != nil && c.tx.Bucket(bOpen) != nil {
		c.messages()
	}
	if c.tx.Bucket(bMessages) != nil && c.tx.Bucket(bOutcomes) != nil {
		c.outcomes()
	}
	if c.tx.Bucket(bWebUsers) != nil && c.tx.Bucket(bWebSessions) != nil {
		c.webUsers()
	}
}

// webUsers checks that every web user is kept under its own email, in
// role "la" with an LA among the authorities or "ops" without one, and
// that every session names a user (removing a user ends its sessions in
// the same transaction).
func (c *checker) webUsers() {
	users := map[string]bool{}
	_ = c.tx.Bucket(bWebUsers).ForEach(func(k, v []byte) error {
		users[string(k)] = true
		var u WebUser
		switch err := jsonUnmarshal(v, &u); {
		case err != nil:
			c.rep.add(bWebUsers, readable(k), "does not decode")
		case u.Email != string(k):
			c.rep.add(bWebUsers, readable(k), "holds user %s", readable([]byte(u.Email)))
		case u.Role == "la" && !c.las[u.LA]:
			c.rep.add(bWebUsers, readable(k), "names LA %s, not an authority", readable([]byte(u.LA)))
		case u.Role == "ops" && u.LA != "":
			c.rep.add(bWebUsers, readable(k), "is ops with LA %s", readable([]byte(u.LA)))
		case u.Role != "la" && u.Role != "ops":
			c.rep.add(bWebUsers, readable(k), "has role %s, not la or ops", readable([]byte(u.Role)))
		case u.Enrolled && (u.PasswordHash == "" || u.TOTPSecret == ""):
			c.rep.add(bWebUsers, readable(k), "is enrolled without a password or authenticator")
		}
		return nil
	})
	_ = c.tx.Bucket(bWebSessions).ForEach(func(k, v []byte) error {
		var s WebSession
		switch err := jsonUnmarshal(v, &s); {
		case err != nil:
			c.rep.add(bWebSessions, readable(k), "does not decode")
		case !users[s.Email]:
			c.rep.add(bWebSessions, readable(k), "is of %s, not a user", readable([]byte(s.Email)))
		}
		return nil
	})
}

func (c *checker) authorities() {
	meta, b := c.tx.Bucket(bMeta), c.tx.Bucket(bAuthorities)
	switch v := meta.Get(kSchema); {
	case v == nil:
		c.rep.add(bMeta, string(kSchema), "missing")
	case string(v) != SchemaVersion:
		c.rep.add(bMeta, string(kSchema), "is %s, this cpis reads %s", readable(v), SchemaVersion)
	}
	if v := meta.Get(kCreated); v == nil {
		c.rep.add(bMeta, string(kCreated), "missing")
	}
	c.las = map[string]bool{}
	_ = b.ForEach(func(k, v []byte) error {
		c.rep.Authorities++
		c.las[string(k)] = true
		var a Authority
		switch err := jsonUnmarshal(v, &a); {
		case len(k) != 3 || !digits(k):
			c.rep.add(bAuthorities, readable(k), "is not a 3-digit LA code")
		case err != nil:
			c.rep.add(bAuthorities, readable(k), "does not decode")
		case a.Code != string(k):
			c.rep.add(bAuthorities, readable(k), "holds LA %s", readable([]byte(a.Code)))
		}
		return nil
	})
	v := meta.Get(kAuthorities)
	if v == nil {
		c.rep.add(bMeta, string(kAuthorities), "missing")
		return
	}
	named, err := decodeCodes(v)
	if err != nil {
		c.rep.add(bMeta, string(kAuthorities), "does not decode")
		return
	}
	for _, code := range named {
		if !c.las[code] {
			c.rep.add(bMeta, string(kAuthorities), "names LA %s, which is not among the authorities", readable([]byte(code)))
		}
	}
	var held []string
	for code := range c.las {
		held = append(held, code)
	}
	slices.Sort(held)
	for _, code := range held {
		if !slices.Contains(named, code) {
			c.rep.add(bAuthorities, readable([]byte(code)), "is not named in meta authorities")
		}
	}
}

// planKeyProblem says what is wrong with the parts of a plan key, or "".
func planKeyProblem(nhs, la []byte, typ []byte) string {
	switch {
	case !nhsnumber.Valid(string(nhs)):
		return "the NHS number is not valid"
	case !digits(la):
		return "the LA code is not 3 digits"
	}
	if t, ok := plans.ParseType(string(typ)); !ok || string(t) != string(typ) {
		return "the plan type is not CPP, LAC or UCPP"
	}
	return ""
}

func (c *checker) plans() {
	pb, ib := c.tx.Bucket(bPlans), c.tx.Bucket(bPlansByLA)
	_ = pb.ForEach(func(k, v []byte) error {
		c.rep.Plans++
		if len(k) < 14 {
			c.rep.add(bPlans, readable(k), "malformed key")
			return nil
		}
		p := keyFromPlanKey(k)
		name := p.String()
		if msg := planKeyProblem(k[:10], k[10:13], k[13:]); msg != "" {
			c.rep.add(bPlans, readable(k), "malformed key: %s", msg)
			return nil
		}
		var r planRecord
		if err := jsonUnmarshal(v, &r); err != nil {
			c.rep.add(bPlans, name, "does not decode")
		}
		if !c.las[p.LA] {
			c.rep.add(bPlans, name, "LA %s is not among the authorities", p.LA)
		}
		if ib.Get(laIndexKey(p)) == nil {
			c.rep.add(bPlans, name, "has no plans_by_la entry")
		}
		return nil
	})
	_ = ib.ForEach(func(k, v []byte) error {
		if len(k) < 14 {
			c.rep.add(bPlansByLA, readable(k), "malformed key")
			return nil
		}
		p := keyFromLAIndex(k)
		if msg := planKeyProblem(k[3:13], k[:3], k[13:]); msg != "" {
			c.rep.add(bPlansByLA, readable(k), "malformed key: %s", msg)
			return nil
		}
		if pb.Get(planKey(p)) == nil {
			c.rep.add(bPlansByLA, p.LA+"/"+p.NHS+"/"+string(p.Type), "names no plan")
		}
		return nil
	})
}

// finished reports whether a message's lifecycle is over (it leaves the
// open_messages index), as PutMessage decides.
func finished(m *Message) bool { return m.State == Responded && len(m.Pending()) == 0 }

// states are the lifecycle states a message may be in.
var states = []State{Taken, Archived, Waiting, Held, Decided, Responded}

func (c *checker) messages() {
	mb, ids, files, open := c.tx.Bucket(bMessages), c.tx.Bucket(bMessageIDs), c.tx.Bucket(bMessageFiles), c.tx.Bucket(bOpen)
	// message returns the message stored under key, or nil.
	message := func(key []byte) *Message {
		v := mb.Get(key)
		if v == nil {
			return nil
		}
		m := &Message{}
		if err := jsonUnmarshal(v, m); err != nil {
			return nil
		}
		m.Key = key
		return m
	}
	_ = mb.ForEach(func(k, v []byte) error {
		c.rep.Messages++
		name := messageName(k)
		if len(k) != 11 || !digits(k[:3]) {
			c.rep.add(bMessages, name, "malformed key")
			return nil
		}
		m := &Message{}
		if err := jsonUnmarshal(v, m); err != nil {
			c.rep.add(bMessages, name, "does not decode")
			return nil
		}
		m.Key = k
		if m.LA != string(k[:3]) {
			c.rep.add(bMessages, name, "holds LA %s", readable([]byte(m.LA)))
		}
		if !c.las[string(k[:3])] {
			c.rep.add(bMessages, name, "LA %s is not among the authorities", k[:3])
		}
		if !slices.Contains(states, m.State) {
			c.rep.add(bMessages, name, "state %s is not a lifecycle state", readable([]byte(m.State)))
		}
		idKey := concat([]byte(m.LA), []byte(m.MessageID))
		switch first := ids.Get(idKey); {
		case first == nil:
			c.rep.add(bMessages, name, "has no message_ids entry")
		case bytes.Compare(first, k) > 0:
			c.rep.add(bMessages, name, "message_ids names a later message, %s", messageName(first))
		}
		fileKey := concat([]byte(m.LA), []byte(m.SHA256), []byte(m.File))
		switch first := files.Get(fileKey); {
		case first == nil:
			c.rep.add(bMessages, name, "has no message_files entry")
		case bytes.Compare(first, k) > 0:
			c.rep.add(bMessages, name, "message_files names a later message, %s", messageName(first))
		}
		switch inOpen := open.Get(k) != nil; {
		case !finished(m) && !inOpen:
			c.rep.add(bMessages, name, "is not finished (%s) but not in open_messages", readable([]byte(m.State)))
		case finished(m) && inOpen:
			c.rep.add(bOpen, name, "names a finished message")
		}
		return nil
	})
	_ = ids.ForEach(func(k, v []byte) error {
		name := indexName(k, 3)
		switch m := message(v); {
		case m == nil:
			c.rep.add(bMessageIDs, name, "names no message (%s)", messageName(v))
		case !bytes.Equal(k, concat([]byte(m.LA), []byte(m.MessageID))):
			c.rep.add(bMessageIDs, name, "names %s, a message with another ID", messageName(v))
		}
		return nil
	})
	_ = files.ForEach(func(k, v []byte) error {
		name := indexName(k, 3, 3+64)
		switch m := message(v); {
		case m == nil:
			c.rep.add(bMessageFiles, name, "names no message (%s)", messageName(v))
		case !bytes.Equal(k, concat([]byte(m.LA), []byte(m.SHA256), []byte(m.File))):
			c.rep.add(bMessageFiles, name, "names %s, a message with another file or content", messageName(v))
		}
		return nil
	})
	_ = open.ForEach(func(k, v []byte) error {
		if mb.Get(k) == nil {
			c.rep.add(bOpen, messageName(k), "names no message")
		}
		return nil
	})
}

func (c *checker) outcomes() {
	mb := c.tx.Bucket(bMessages)
	_ = c.tx.Bucket(bOutcomes).ForEach(func(k, v []byte) error {
		c.rep.Outcomes++
		if len(k) != 15 {
			c.rep.add(bOutcomes, readable(k), "malformed key")
			return nil
		}
		name := messageName(k[:11]) + "/" + strconv.FormatUint(uint64(k[11])<<24|uint64(k[12])<<16|uint64(k[13])<<8|uint64(k[14]), 10)
		if mb.Get(k[:11]) == nil {
			c.rep.add(bOutcomes, name, "belongs to no message")
		}
		return nil
	})
}

// messageName is a messages key as people read it: "LA:seq".
func messageName(k []byte) string {
	if len(k) != 11 || !digits(k[:3]) {
		return readable(k)
	}
	return string(k[:3]) + ":" + strconv.FormatUint(MessageSeq(k), 10)
}

// indexName shows a key of text parts, cut at the offsets given, as the
// parts joined by "/".
func indexName(k []byte, cuts ...int) string {
	var parts []string
	last := 0
	for _, c := range cuts {
		if c > len(k) {
			break
		}
		parts = append(parts, readable(k[last:c]))
		last = c
	}
	parts = append(parts, readable(k[last:]))
	return strings.Join(parts, "/")
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// readable returns b as it is when it is printable text without spaces,
// else quoted.
func readable(b []byte) string {
	s := string(b)
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' || r == unicode.ReplacementChar {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
