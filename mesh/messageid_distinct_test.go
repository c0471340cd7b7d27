package mesh_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"cpis/mesh"
)

// Two returns with the same content and modification time get distinct
// IDs; each keeps its ID when asked again (a run after a crash).
func TestDistinctDerivedMessageID(t *testing.T) {
	mod := time.Date(2026, 11, 21, 1, 30, 0, 5000, time.UTC)
	sum := sha256.Sum256([]byte("nhs_number,plan_type,start_date,local_id\r\n")) // two empty DELTA returns
	given := map[string]string{}                                                 // ID -> file it names (the store)
	inUse := func(name string) func(string) bool {
		return func(id string) bool { f, ok := given[id]; return ok && f != name }
	}
	take := func(name string) string {
		id := mesh.DistinctDerivedMessageID(name, mod, sum, inUse(name))
		if !mesh.ValidMessageID(id) {
			t.Fatalf("%s: invalid ID %q", name, id)
		}
		given[id] = name
		return id
	}
	a := take("CPIS_841_DELTA_20261120.csv")
	if want := mesh.DerivedMessageID(mod, sum); a != want {
		t.Errorf("first file: %s, want the plain derived ID %s", a, want)
	}
	b := take("CPIS_841_DELTA_20261121.csv")
	c := take("CPIS_841_DELTA_20261122.csv")
	if a == b || b == c || a == c {
		t.Errorf("IDs %s %s %s are not distinct", a, b, c)
	}
	if b[:20] != a[:20] {
		t.Errorf("%s does not keep the modification time of %s", b, a)
	}
	// Asked again, as after a crash, each file gets its own ID back.
	for name, want := range map[string]string{"CPIS_841_DELTA_20261120.csv": a, "CPIS_841_DELTA_20261121.csv": b, "CPIS_841_DELTA_20261122.csv": c} {
		if got := mesh.DistinctDerivedMessageID(name, mod, sum, inUse(name)); got != want {
			t.Errorf("%s asked again: %s, want %s", name, got, want)
		}
	}
	// Every candidate in use: it still returns (the last tried).
	if id := mesh.DistinctDerivedMessageID("x.csv", mod, sum, func(string) bool { return true }); !mesh.ValidMessageID(id) {
		t.Errorf("all in use: %q", id)
	}
}
