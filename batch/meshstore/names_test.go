package meshstore_test

import (
	"strings"
	"testing"

	"cpis/batch/meshstore"
	"cpis/mesh/meshapi"
)

// TestDeliverName: a sent message keeps its mex-FileName in the inbox
// folder unless the name could attack a terminal or a log, or is no file
// name an inbox holds; then it is "<message ID>.dat".
func TestDeliverName(t *testing.T) {
	const id = "20261122020000000001_ABCDEF"
	cases := []struct{ name, want string }{
		{"CPIS_841_FULL_20261121.csv", "CPIS_841_FULL_20261121.csv"},
		{"", id + ".dat"},
		{"../x.csv", id + ".dat"},
		{"CPIS_841_FULL_20261121.ctl", id + ".dat"},
		{".hidden.csv", id + ".dat"},
		{"CPIS_841_FULL_\x1b[31m.csv", id + ".dat"},
		{"CPIS_841_FULL_\u202egpj.csv", id + ".dat"},
		{"CPIS_841_FULL_\xff.csv", id + ".dat"},
		{strings.Repeat("a", 201), id + ".dat"},
		{"C:evil.csv", id + ".dat"},
	}
	for _, c := range cases {
		if got := meshstore.DeliverName(meshapi.Envelope{ID: id, FileName: c.name}); got != c.want {
			t.Errorf("deliverName(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
