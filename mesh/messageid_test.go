package mesh_test

import (
	"crypto/sha256"
	"regexp"
	"testing"
	"time"

	"cpis/mesh"
)

func TestNewMessageID(t *testing.T) {
	// 01:30 in UTC+1 is 00:30 UTC: the ID is always in UTC.
	at := time.Date(2026, 11, 21, 1, 30, 0, 123456789, time.FixedZone("UTC+1", 3600))
	re := regexp.MustCompile(`^20261121003000123456_[0-9A-F]{6}$`)
	seen := map[string]bool{}
	for range 5 {
		id := mesh.NewMessageID(at)
		if !re.MatchString(id) || !mesh.ValidMessageID(id) {
			t.Fatalf("NewMessageID = %q, want 20261121003000123456_XXXXXX", id)
		}
		seen[id] = true
	}
	if len(seen) < 2 {
		t.Errorf("5 NewMessageID calls gave %d distinct IDs", len(seen))
	}
}

func TestDerivedMessageID(t *testing.T) {
	mod := time.Date(2026, 11, 21, 1, 30, 0, 5000, time.FixedZone("BST", 3600))
	sum := sha256.Sum256([]byte("hello")) // 2cf24dba...
	const want = "20261121003000000005_2CF24D"
	for range 2 {
		if got := mesh.DerivedMessageID(mod, sum); got != want {
			t.Errorf("DerivedMessageID = %q, want %q", got, want)
		}
	}
	if !mesh.ValidMessageID(want) {
		t.Errorf("ValidMessageID(%q) = false", want)
	}
}

func TestValidMessageID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"20261121013000123456_3F9A0C", true},
		{"20240229235959999999_000000", true},
		{"20261121013000123456_3f9a0c", false}, // lower-case hex
		{"2026112101300012345_3F9A0C", false},  // 19 digits
		{"20261121013000123456_3F9A0", false},
		{"20261121013000123456-3F9A0C", false},
		{"20261121013000123456_3F9A0G", false},
		{"20250229013000123456_3F9A0C", false}, // no 29 February in 2025
		{"20261131013000123456_3F9A0C", false}, // 31 November
		{"20261121243000123456_3F9A0C", false}, // hour 24
		{"20261121016000123456_3F9A0C", false}, // minute 60
		{"20261121013000123456_3F9A0C\n", false},
		{" 20261121013000123456_3F9A0C", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := mesh.ValidMessageID(tt.id); got != tt.want {
			t.Errorf("ValidMessageID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
