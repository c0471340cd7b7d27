package meshstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cpis/store"
)

// Concurrent writes share commits; each caller sees its own outcome: a
// failing write (or a panicking one) fails alone, the others are stored.
func TestGroupCommit(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := &groupCommit{db: db}
	errBad := errors.New("bad write")
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = g.do(func(tx *store.Tx) error {
				switch i {
				case 7:
					return errBad
				case 13:
					panic("boom")
				}
				return tx.AuditMESH(store.MeshEvent{At: time.Date(2026, 11, 22, 2, 30, 0, i, time.UTC), Action: "send", MessageID: fmt.Sprint(i)})
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch i {
		case 7:
			if !errors.Is(err, errBad) {
				t.Errorf("write 7: %v, want its own error", err)
			}
		case 13:
			if err == nil {
				t.Error("write 13 panicked: no error")
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
	}
	stored := map[string]bool{}
	if err := db.View(func(tx *store.Tx) error {
		return tx.MeshAuditEvents(time.Time{}, func(e store.MeshEvent) error { stored[e.MessageID] = true; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if len(stored) != n-2 || stored["7"] || stored["13"] {
		t.Errorf("%d events stored (7: %v, 13: %v), want the %d that did not fail", len(stored), stored["7"], stored["13"], n-2)
	}
}
