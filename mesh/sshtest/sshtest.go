// Package sshtest drives the OpenSSH tools for the tests of the mesh
// transports: key pairs, authorized_keys and known_hosts files, an sshd on
// a free loopback port with its own configuration, and the sftp client in
// batch mode. Only tests import it. A tool that is missing here ends the
// test through cpis/mesh/testenv: a skip for a developer, a failure where
// CPIS_TEST_REQUIRE names it.
package sshtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"cpis/mesh/testenv"
)

// SSHDPath is where OpenSSH's server is installed (Debian's
// openssh-server).
const SSHDPath = "/usr/sbin/sshd"

// WriteKey makes an ed25519 key pair, writes the private key (OpenSSH
// format, 0600, comment name) to dir/name and returns its path and the
// public key.
func WriteKey(t testing.TB, dir, name string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return p, k
}

// PublicKey returns the public half of the private key file path.
func PublicKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}

// appendMu serialises the appends of AppendAuthorizedKey and
// AppendKnownHost, which tests call from parallel goroutines.
var appendMu sync.Mutex

func appendLine(t testing.TB, path string, line []byte) {
	t.Helper()
	appendMu.Lock()
	defer appendMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// AppendAuthorizedKey adds key to the authorized_keys file path (created
// 0600 when missing).
func AppendAuthorizedKey(t testing.TB, path string, key ssh.PublicKey) {
	t.Helper()
	appendLine(t, path, ssh.MarshalAuthorizedKey(key))
}

// AppendKnownHost adds key as addr's host key to the known_hosts file
// path (created 0600 when missing).
func AppendKnownHost(t testing.TB, path, addr string, key ssh.PublicKey) {
	t.Helper()
	appendLine(t, path, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)+"\n"))
}

// SFTPServerPath returns the path of OpenSSH's sftp-server program, or
// ends t as testenv.Unavailable for testenv.SSHD.
func SFTPServerPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testenv.Unavailable(t, testenv.SSHD, "no sftp-server program (apt-get install openssh-server)")
	return ""
}

// SSHD is OpenSSH's sshd running for a test on a loopback port, as the
// current user, who is the only one it lets in (with a key of
// AuthorizedKeys).
type SSHD struct {
	Addr           string // 127.0.0.1:port
	Port           int
	HostKey        ssh.PublicKey
	User           string // the current user's name
	AuthorizedKeys string // the authorized_keys file: see Authorize
	stderr         *SyncBuffer
}

// SSHDOptions adjusts StartSSHD.
type SSHDOptions struct {
	// SFTPServer is the program of the sftp subsystem; "" means sshd's
	// internal-sftp.
	SFTPServer string
	// Config holds more sshd_config lines.
	Config []string
}

// Authorize lets key log in.
func (s *SSHD) Authorize(t testing.TB, key ssh.PublicKey) {
	t.Helper()
	AppendAuthorizedKey(t, s.AuthorizedKeys, key)
}

// Log returns what sshd wrote on its standard error so far.
func (s *SSHD) Log() string { return s.stderr.String() }

// StartSSHD starts OpenSSH's sshd (SSHDPath; testenv.SSHD when missing)
// in the foreground on a free loopback port, with its own host key,
// configuration and empty authorized_keys file, waits until it accepts
// connections, and stops it (and the sessions it forked) at t's cleanup,
// logging what it said when t failed. Run as root, it creates sshd's
// privilege separation folder /run/sshd when missing.
func StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	if _, err := os.Stat(SSHDPath); err != nil {
		testenv.Unavailable(t, testenv.SSHD, fmt.Sprintf("%v (apt-get install openssh-server)", err))
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			testenv.Unavailable(t, testenv.SSHD, fmt.Sprintf("sshd needs /run/sshd: %v", err))
		}
	}
	dir := t.TempDir()
	hostKeyPath, hostKey := WriteKey(t, dir, "ssh_host_ed25519_key")
	s := &SSHD{HostKey: hostKey, User: me.Username, AuthorizedKeys: filepath.Join(dir, "authorized_keys"), stderr: &SyncBuffer{}}
	if err := os.WriteFile(s.AuthorizedKeys, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	subsystem := opts.SFTPServer
	if subsystem == "" {
		subsystem = "internal-sftp"
	}
	for attempt := 0; ; attempt++ {
		port := FreePort(t)
		conf := filepath.Join(dir, "sshd_config")
		lines := append([]string{
			"Port " + strconv.Itoa(port),
			"ListenAddress 127.0.0.1",
			"HostKey " + hostKeyPath,
			"PidFile " + filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile " + s.AuthorizedKeys,
			"StrictModes no",
			"UsePAM no",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"PubkeyAuthentication yes",
			"PermitRootLogin prohibit-password",
			"AllowUsers " + me.Username,
			"Subsystem sftp " + subsystem,
			"LogLevel ERROR",
		}, opts.Config...)
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		stop, up := startSSHD(t, conf, addr, s.stderr)
		if up {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("sshd said:\n%s", s.stderr.String())
				}
			})
			s.Addr, s.Port = addr, port
			return s
		}
		stop()
		if attempt == 3 { // the port was taken meanwhile, four times
			t.Fatalf("sshd did not start:\n%s", s.stderr.String())
		}
	}
}

// startSSHD runs sshd with the configuration conf and waits up to 5
// seconds for it to accept connections on addr; stop ends it and the
// session processes it forked (its process group).
func startSSHD(t testing.TB, conf, addr string, stderr *SyncBuffer) (stop func(), up bool) {
	t.Helper()
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", conf)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			return stop, false
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return stop, true
		}
	}
	return stop, false
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SFTP is the OpenSSH sftp client in batch mode, logging in to
// 127.0.0.1:Port as User with the private key file Key, without checking
// the host key or reading any configuration.
type SFTP struct {
	Port int
	User string
	Key  string
	// Home is the client's working folder and HOME; "" means a temporary
	// folder of its own.
	Home string
	// Timeout bounds one run; 0 means 15 seconds.
	Timeout time.Duration
	// Args are more options, before the destination (e.g. "-c", cipher).
	Args []string
}

// Run runs the sftp commands batch (testenv.SFTP when the client is
// missing) and returns the client's combined output and its error.
func (c SFTP) Run(t testing.TB, batch string) (string, error) {
	t.Helper()
	bin := testenv.LookPath(t, testenv.SFTP, "sftp")
	dir := t.TempDir()
	bf := filepath.Join(dir, "batch")
	if err := os.WriteFile(bf, []byte(batch), 0o600); err != nil {
		t.Fatal(err)
	}
	home := c.Home
	if home == "" {
		home = dir
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"-F", "/dev/null", "-b", bf, "-i", c.Key, "-P", strconv.Itoa(c.Port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"}
	args = append(append(args, c.Args...), c.User+"@127.0.0.1")
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// NeedSFTP ends t as testenv.Unavailable when the OpenSSH sftp client is
// not on PATH, before a test sets up what it would drive.
func NeedSFTP(t testing.TB) {
	t.Helper()
	testenv.LookPath(t, testenv.SFTP, "sftp")
}

// SyncBuffer is a bytes.Buffer that goroutines may write at once (a
// process's standard error, a log handler).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
