package mesh_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"cpis/mesh"
)

func TestMailboxID(t *testing.T) {
	if got := mesh.MailboxID("841"); got != "LA841HC001" {
		t.Errorf("MailboxID(841) = %q", got)
	}
}

func TestControlName(t *testing.T) {
	tests := []struct{ data, want string }{
		{"CPIS_841_FULL_20261121.csv.gz", "CPIS_841_FULL_20261121.ctl"},
		{"CPIS_841_FULL_20261121.csv", "CPIS_841_FULL_20261121.ctl"},
		{"CPIS_841_FULL_20261121.XML.GZ", "CPIS_841_FULL_20261121.ctl"},
		{"CPIS_841_FULL_20261121.Xml", "CPIS_841_FULL_20261121.ctl"},
		{"CPIS_841_FULL_20261121.xlsx", "CPIS_841_FULL_20261121.ctl"},
		{"report.txt.gz", "report.txt.ctl"},
		{"a.b.dat", "a.b.ctl"},
		{"noext", "noext.ctl"},
	}
	for _, tt := range tests {
		if got := mesh.ControlName(tt.data); got != tt.want {
			t.Errorf("ControlName(%q) = %q, want %q", tt.data, got, tt.want)
		}
	}
}

func TestIsTempName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".x.csv.tmp", true},
		{".hidden", true},
		{"x.csv.filepart", true},
		{"x.csv.part", true},
		{"x.csv.TMP", true},
		{"x.csv", false},
		{"x.partial.csv", false},
	}
	for _, tt := range tests {
		if got := mesh.IsTempName(tt.name); got != tt.want {
			t.Errorf("IsTempName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLimitReader(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		limit   int64
		wantErr bool
	}{
		{"under", 9, 10, false},
		{"exactly", 10, 10, false},
		{"one over", 11, 10, true},
		{"far over", 1000, 10, true},
		{"empty zero limit", 0, 0, false},
		{"zero limit", 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := bytes.Repeat([]byte("x"), tt.size)
			// One byte per Read exercises the count at every step.
			got, err := io.ReadAll(mesh.LimitReader(iotest.OneByteReader(bytes.NewReader(src)), tt.limit))
			if tt.wantErr {
				if !errors.Is(err, mesh.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				if int64(len(got)) != tt.limit {
					t.Errorf("read %d bytes before the error, want %d", len(got), tt.limit)
				}
				return
			}
			if err != nil || len(got) != tt.size {
				t.Errorf("read %d bytes, err %v; want %d, nil", len(got), err, tt.size)
			}
		})
	}
	// A big Read asks the source for limit+1 bytes at most.
	r := mesh.LimitReader(strings.NewReader(strings.Repeat("y", 100)), 10)
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	if n != 10 || !errors.Is(err, mesh.ErrTooLarge) {
		t.Errorf("Read = %d, %v; want 10, ErrTooLarge", n, err)
	}
}

func TestLAError(t *testing.T) {
	cause := errors.New("connection refused")
	var err error = &mesh.LAError{LA: "841", Err: cause}
	if got, want := err.Error(), "LA 841: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("LAError does not unwrap to its cause")
	}
}
