package local_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"cpis/mesh"
	"cpis/mesh/local"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenData(t *testing.T) {
	const MiB = 1 << 20
	text := []byte("nhs_number,local_id\r\n9434765919,A1\r\n")
	noise := make([]byte, 256<<10) // incompressible, so corruption lands in data blocks
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	corrupt := gz(t, noise)
	corrupt = append([]byte(nil), corrupt...)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0xFF
	}
	badCRC := gz(t, text)
	badCRC[len(badCRC)-8] ^= 0xFF
	whole := gz(t, noise)

	tests := []struct {
		name    string
		stored  []byte
		gzip    bool
		limit   int64
		want    []byte
		openErr error // from OpenData
		readErr error // from reading
	}{
		{"plain", text, false, MiB, text, nil, nil},
		{"plain at the limit", text, false, int64(len(text)), text, nil, nil},
		{"plain over the limit", text, false, int64(len(text)) - 1, nil, mesh.ErrTooLarge, nil},
		{"gzip", gz(t, text), true, MiB, text, nil, nil},
		{"gzip, two members", append(gz(t, text), gz(t, text)...), true, MiB, append(append([]byte(nil), text...), text...), nil, nil},
		{"gzip stored over the limit", gz(t, noise), true, 1024, nil, mesh.ErrTooLarge, nil},
		{"gzip bomb", gz(t, make([]byte, 10*MiB)), true, MiB, nil, nil, mesh.ErrTooLarge},
		{"gzip exactly at the limit", gz(t, make([]byte, MiB)), true, MiB, make([]byte, MiB), nil, nil},
		{"not gzip", text, true, MiB, nil, mesh.ErrNotGzip, nil},
		{"empty, gzip", nil, true, MiB, nil, mesh.ErrNotGzip, nil},
		{"corrupt mid-stream", corrupt, true, MiB, nil, nil, mesh.ErrNotGzip},
		{"bad checksum", badCRC, true, MiB, nil, nil, mesh.ErrNotGzip},
		{"truncated", whole[:len(whole)/2], true, MiB, nil, nil, mesh.ErrNotGzip},
		{"trailing garbage", append(gz(t, text), "garbage"...), true, MiB, nil, nil, mesh.ErrNotGzip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "data")
			if err := os.WriteFile(p, tt.stored, 0o640); err != nil {
				t.Fatal(err)
			}
			rc, err := local.OpenData(p, tt.gzip, tt.limit)
			if tt.openErr != nil {
				if !errors.Is(err, tt.openErr) {
					t.Fatalf("OpenData: %v, want %v", err, tt.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenData: %v", err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if tt.readErr != nil {
				if !errors.Is(err, tt.readErr) {
					t.Fatalf("read: %v, want %v", err, tt.readErr)
				}
				if int64(len(got)) > tt.limit {
					t.Errorf("read %d bytes, over the limit %d", len(got), tt.limit)
				}
				return
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("read %d bytes, want %d", len(got), len(tt.want))
			}
			if err := rc.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	if _, err := local.OpenData(filepath.Join(t.TempDir(), "none"), false, MiB); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenData of a missing file: %v", err)
	}
}
