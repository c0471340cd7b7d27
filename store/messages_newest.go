package store

import (
	"bytes"
	"fmt"
)

// MessagesNewestFirst calls fn for the messages of la (an LA code, not
// ""), the last taken first, until fn returns false or an error: a reader
// of the recent messages stops without decoding the older ones.
func (t *Tx) MessagesNewestFirst(la string, fn func(*Message) (more bool, err error)) error {
	if la == "" {
		return fmt.Errorf("messages newest first: no LA")
	}
	prefix := []byte(la)
	c := t.b(bMessages).Cursor()
	// A message key is the LA code then an 8-byte sequence number: the
	// first key past la's is at or after la + 9 bytes of 0xff.
	k, v := c.Seek(concat(prefix, bytes.Repeat([]byte{0xff}, 9)))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		m := &Message{}
		if err := jsonUnmarshal(v, m); err != nil {
			return fmt.Errorf("decode message %x: %w", k, err)
		}
		m.Key = append([]byte(nil), k...)
		more, err := fn(m)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
