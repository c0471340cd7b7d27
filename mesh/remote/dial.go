package remote

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KnownHostsFile is the name, in the data directory, of the OpenSSH
// known_hosts file the remote mailboxes' host keys are checked against.
const KnownHostsFile = "known_hosts"

// HostKeyError is a remote mailbox whose host key is not the one known:
// unknown (no line for the host in known_hosts) or changed (a line for the
// host holds another key, or the key is revoked). It wraps ErrUnknownHost
// or ErrHostKeyChanged.
type HostKeyError struct {
	Addr        string // host:port dialled
	KeyType     string // of the key the server showed
	Fingerprint string // ssh.FingerprintSHA256 of that key
	KnownHosts  string // the known_hosts file
	// Known is where the host's known key is, "file:line" (changed only).
	Known string
	err   error
}

func (e *HostKeyError) Error() string {
	host, port, err := net.SplitHostPort(e.Addr)
	if err != nil {
		host, port = e.Addr, "22"
	}
	scan := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, e.KnownHosts)
	if errors.Is(e.err, ErrUnknownHost) {
		return fmt.Sprintf("host key of %s is unknown: the server shows %s %s, which is not in %s; "+
			"check that fingerprint with the server's owner, then add it: %s", e.Addr, e.KeyType, e.Fingerprint, e.KnownHosts, scan)
	}
	return fmt.Sprintf("host key of %s has CHANGED: the server shows %s %s, not the key at %s "+
		"(someone may be intercepting the connection); if the server's owner confirms the new key, "+
		"remove the old one (ssh-keygen -R '%s' -f %s) and add the new: %s",
		e.Addr, e.KeyType, e.Fingerprint, e.Known, knownhosts.Normalize(e.Addr), e.KnownHosts, scan)
}

func (e *HostKeyError) Unwrap() error { return e.err }

// CheckKeyFile reads the private key a remote mailbox logs in with: a
// regular file readable by its owner only (as ssh requires), in a format
// ssh reads, without a passphrase (the daemon runs unattended).
func CheckKeyFile(path string) (ssh.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: permissions %04o let others read it: the private key must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var pm *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		return nil, fmt.Errorf("key file %s is protected by a passphrase: the hub runs unattended and needs a key without one, kept owner-only", path)
	case err != nil:
		if strings.Contains(string(data), "PRIVATE KEY") {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		return nil, fmt.Errorf("key file %s is not an OpenSSH private key (a .pub file is the public half: give the private key): %w", path, err)
	}
	return signer, nil
}

// HasHostKey reports whether dataDir's known_hosts has a key for addr.
func HasHostKey(dataDir, addr string) (bool, error) {
	cb, err := hostKeys(filepath.Join(dataDir, KnownHostsFile))
	if err != nil || cb == nil {
		return false, err
	}
	return len(knownAlgorithms(cb, addr)) > 0, nil
}

// hostKeys loads a known_hosts file; a file that does not exist knows no
// host (nil callback, nil error).
func hostKeys(path string) (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	return cb, nil
}

// knownAlgorithms returns the host key algorithms of the keys known for
// addr, so the handshake asks the server for a key that can match (a
// server with several host keys could otherwise show one not listed).
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := cb(addr, fakeAddr(addr), probe); !errors.As(err, &ke) {
		return nil
	}
	var algs []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		t := k.Key.Type()
		as := []string{t}
		if t == ssh.KeyAlgoRSA {
			as = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				algs = append(algs, a)
			}
		}
	}
	return algs
}

// fakeAddr is the address knownhosts also checks by IP: the dialled one
// when it is an IP literal.
func fakeAddr(addr string) net.Addr {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &net.TCPAddr{}
	}
	ip := net.ParseIP(host)
	p, _ := net.LookupPort("tcp", port)
	if ip == nil {
		return &net.TCPAddr{}
	}
	return &net.TCPAddr{IP: ip, Port: p}
}

// session is one SSH connection with its SFTP client.
type session struct {
	ssh  *ssh.Client
	sftp *sftp.Client
	stop func()
}

func (s *session) Close() {
	s.stop()
	s.sftp.Close()
	s.ssh.Close()
}

// dial connects to r, checks its host key against <DataDir>/known_hosts,
// logs in with r's key and starts SFTP. The connection is closed when ctx
// ends or when the server stops answering keepalives within cfg's
// timeout, so a dead peer never hangs a job.
func dial(ctx context.Context, cfg *Config, r Remote) (*session, error) {
	signer, err := CheckKeyFile(r.KeyFile)
	if err != nil {
		return nil, err
	}
	khPath := filepath.Join(cfg.DataDir, KnownHostsFile)
	known, err := hostKeys(khPath)
	if err != nil {
		return nil, err
	}
	var hostErr error
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		var err error
		if known != nil {
			err = known(hostname, remote, key)
		} else {
			err = &knownhosts.KeyError{}
		}
		if err == nil {
			return nil
		}
		he := &HostKeyError{Addr: r.Addr, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: khPath}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &ke) && len(ke.Want) == 0:
			he.err = ErrUnknownHost
		case errors.As(err, &ke):
			he.err = ErrHostKeyChanged
			he.Known = fmt.Sprintf("%s:%d", ke.Want[0].Filename, ke.Want[0].Line)
		case errors.As(err, &re):
			he.err = ErrHostKeyChanged
			he.Known = fmt.Sprintf("%s:%d (revoked)", re.Revoked.Filename, re.Revoked.Line)
		default:
			return err
		}
		hostErr = he
		return he
	}
	conf := &ssh.ClientConfig{
		User:            r.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: check,
		Timeout:         cfg.DialTimeout,
	}
	if known != nil {
		conf.HostKeyAlgorithms = knownAlgorithms(known, r.Addr)
	}
	d := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", r.Addr, err)
	}
	nc.SetDeadline(time.Now().Add(cfg.DialTimeout))
	cc, chans, reqs, err := ssh.NewClientConn(nc, r.Addr, conf)
	if err != nil {
		nc.Close()
		if hostErr != nil {
			return nil, hostErr
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("log in to %s as %s with key %s (%s): %w: %w", r.Addr, r.User, r.KeyFile, ssh.FingerprintSHA256(signer.PublicKey()), ErrAuth, err)
		}
		return nil, fmt.Errorf("ssh to %s: %w", r.Addr, err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	sc, err := sftp.NewClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("start sftp on %s: %w", r.Addr, err)
	}
	nc.SetDeadline(time.Time{})
	return &session{ssh: client, sftp: sc, stop: watch(ctx, client, cfg.DialTimeout)}, nil
}

// watch closes client when ctx ends or a keepalive goes unanswered for
// timeout, and returns the function that stops watching.
func watch(ctx context.Context, client *ssh.Client, timeout time.Duration) func() {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		tick := time.NewTicker(timeout)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				client.Close()
				return
			case <-tick.C:
			}
			answered := make(chan struct{})
			go func() {
				client.SendRequest("keepalive@openssh.com", true, nil)
				close(answered)
			}()
			select {
			case <-answered:
			case <-done:
				return
			case <-ctx.Done():
				client.Close()
				return
			case <-time.After(timeout):
				client.Close()
				return
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}
