package mesh

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// messageIDTime is the layout of a message ID's first 14 digits.
const messageIDTime = "20060102150405"

var messageIDPattern = regexp.MustCompile(`^[0-9]{20}_[0-9A-F]{6}$`)

// NewMessageID returns a new message ID in the real MESH format for a
// message made at t: t in UTC as yyyyMMddHHmmss, 6 digits of microseconds,
// "_" and 6 random upper-case hex characters.
func NewMessageID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return messageID(t, b[:])
}

// DerivedMessageID returns the message ID of a return that came without a
// usable control file: the data file's modification time (UTC,
// microseconds), "_" and the first 6 hex digits of sum, the SHA-256 of its
// decompressed content. The same file always gets the same ID, so a run
// that crashed and runs again names it as before.
func DerivedMessageID(modTime time.Time, sum [32]byte) string {
	return messageID(modTime, sum[:3])
}

// DistinctDerivedMessageID returns the message ID of the file name that
// came without a usable control file: DerivedMessageID's, unless inUse
// reports that ID already given to another file (two returns with the same
// content and modification time, such as two empty DELTA files copied with
// their times kept); then the same time with 6 hex digits of the SHA-256
// of name and sum together (and a counter, in the unlikely case that is in
// use too). inUse(id) must report whether id names a message of another
// file than name: the same file asked again (a run that crashed and runs
// again) gets the ID it got the first time, since what was in use then is
// in use still.
func DistinctDerivedMessageID(name string, modTime time.Time, sum [32]byte, inUse func(id string) bool) string {
	id := DerivedMessageID(modTime, sum)
	for i := uint32(1); inUse(id) && i < 1<<16; i++ {
		h := sha256.New()
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(sum[:])
		h.Write(binary.BigEndian.AppendUint32(nil, i))
		id = messageID(modTime, h.Sum(nil)[:3])
	}
	return id
}

func messageID(t time.Time, suffix []byte) string {
	t = t.UTC()
	return fmt.Sprintf("%s%06d_%s", t.Format(messageIDTime), t.Nanosecond()/1000,
		strings.ToUpper(hex.EncodeToString(suffix)))
}

// ValidMessageID reports whether s is a message ID: it matches
// ^[0-9]{20}_[0-9A-F]{6}$ and its first 14 digits are a real date and time.
func ValidMessageID(s string) bool {
	if !messageIDPattern.MatchString(s) {
		return false
	}
	_, err := time.Parse(messageIDTime, s[:14])
	return err == nil
}
