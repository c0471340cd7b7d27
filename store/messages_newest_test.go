package store_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

// TestMessagesNewestFirst: an LA's messages, last taken first, never
// another LA's (those of the LAs before and after it in key order
// included), stopping when asked.
func TestMessagesNewestFirst(t *testing.T) {
	db := open(t, t.TempDir())
	if err := db.Update(func(tx *store.Tx) error {
		for i, la := range []string{"202", "841", "841", "873", "841", "202", "999"} {
			m := &store.Message{LA: la, MessageID: fmt.Sprintf("m%d", i), File: fmt.Sprintf("f%d", i), SHA256: fmt.Sprint(i), State: store.Taken}
			if err := tx.NewMessage(m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		la   string
		stop int // stop after this many; 0 means never
		want []string
	}{
		{la: "841", want: []string{"m4", "m2", "m1"}},
		{la: "841", stop: 2, want: []string{"m4", "m2"}},
		{la: "202", want: []string{"m5", "m0"}},
		{la: "999", want: []string{"m6"}},
		{la: "873", want: []string{"m3"}},
		{la: "100", want: nil},
		{la: "9999", want: nil},
	}
	for _, tt := range tests {
		var got []string
		if err := db.View(func(tx *store.Tx) error {
			return tx.MessagesNewestFirst(tt.la, func(m *store.Message) (bool, error) {
				got = append(got, m.MessageID)
				return tt.stop == 0 || len(got) < tt.stop, nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("LA %s, stop %d (-want +got):\n%s", tt.la, tt.stop, diff)
		}
	}
	if err := db.View(func(tx *store.Tx) error {
		return tx.MessagesNewestFirst("", func(*store.Message) (bool, error) { return true, nil })
	}); err == nil {
		t.Error("no LA: no error")
	}
}
