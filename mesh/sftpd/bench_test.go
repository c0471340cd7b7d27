package sftpd_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
)

// BenchmarkUpload200MB uploads a 200 MB file with the OpenSSH sftp client
// through the hub's server and through OpenSSH's sshd + sftp-server, both
// on loopback with the same client, cipher and key, and reports each
// throughput and their ratio (hub/openssh; issue 4's target is >= 0.8).
// The hub's time includes its fsync on close; sftp-server does not fsync.
//
//	go test -run '^$' -bench Upload200MB ./mesh/sftpd
//	CPIS_BENCH_CIPHER=chacha20-poly1305@openssh.com go test -run '^$' -bench Upload200MB ./mesh/sftpd
//
// Needs sftp, /usr/sbin/sshd and sftp-server (openssh-server): skipped
// otherwise, failed where CPIS_TEST_REQUIRE names them (cpis/mesh/testenv).
// Run as root, it creates sshd's /run/sshd when missing.
func BenchmarkUpload200MB(b *testing.B) {
	sshtest.NeedSFTP(b)
	server := sshtest.SFTPServerPath(b)
	cipher := os.Getenv("CPIS_BENCH_CIPHER")
	if cipher == "" {
		cipher = "aes128-gcm@openssh.com"
	}
	const size = 200 << 20

	e := newEnv(b, func(c *sftpd.Config) { c.SizeLimit = size })
	src := filepath.Join(b.TempDir(), "upload.csv")
	writeRandom(b, src, size)
	osshDir := b.TempDir()
	sshd := sshtest.StartSSHD(b, sshtest.SSHDOptions{SFTPServer: server})
	sshd.Authorize(b, sshtest.PublicKey(b, e.keys[la841]))
	port := sshd.Port

	run := func(label string, port int, user, dest string) time.Duration {
		b.Helper()
		client := sshtest.SFTP{Port: port, User: user, Key: e.keys[la841], Home: e.local, Timeout: 5 * time.Minute, Args: []string{"-q", "-c", cipher}}
		start := time.Now()
		out, err := client.Run(b, "put "+src+" "+dest+"\n")
		d := time.Since(start)
		b.Logf("%s: %v", label, d)
		if err != nil {
			b.Fatalf("sftp put to port %d: %v\n%s", port, err, out)
		}
		return d
	}
	var hub, ossh time.Duration
	n := 0
	for i := 0; b.Loop(); i++ {
		n++
		name := fmt.Sprintf("bench_%d.csv", i)
		// Alternate which goes first, so neither always gets a warm cache.
		if i%2 == 0 {
			hub += run("hub", e.port, la841, "/inbox/"+name)
			ossh += run("openssh", port, sshd.User, filepath.Join(osshDir, name))
		} else {
			ossh += run("openssh", port, sshd.User, filepath.Join(osshDir, name))
			hub += run("hub", e.port, la841, "/inbox/"+name)
		}
		b.StopTimer()
		for _, p := range []string{filepath.Join(e.data, "mailboxes", la841, "inbox", name), filepath.Join(osshDir, name)} {
			if fi, err := os.Stat(p); err != nil || fi.Size() != size {
				b.Fatalf("%s after upload: %v %v", p, fi, err)
			}
			os.Remove(p)
		}
		b.StartTimer()
	}
	mbs := func(d time.Duration) float64 { return float64(size) * float64(n) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(hub), "hub-MB/s")
	b.ReportMetric(mbs(ossh), "openssh-MB/s")
	b.ReportMetric(mbs(hub)/mbs(ossh), "ratio")
	b.Logf("cipher %s: hub %.0f MB/s, OpenSSH %.0f MB/s, ratio %.2f (target >= 0.8)", cipher, mbs(hub), mbs(ossh), mbs(hub)/mbs(ossh))
}

// writeRandom writes n bytes that do not compress to path.
func writeRandom(b *testing.B, path string, n int) {
	b.Helper()
	r := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for written := 0; written < n; written += len(buf) {
		_, _ = r.Read(buf)
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
