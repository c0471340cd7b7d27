package sftpd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"cpis/mesh"
	"cpis/mesh/durable"
)

// HostKeyFile is the name of the server's host key in the data directory.
const HostKeyFile = "ssh_host_ed25519_key"

// LoadOrCreateHostKey returns the host key kept in
// <dataDir>/ssh_host_ed25519_key, making a new ed25519 key there first when
// there is none: OpenSSH private key format, mode 0600, written under a
// temporary name and linked into place, so that the file is whole or absent
// and an existing key is never replaced. Like sshd, it refuses a key file
// that others than its owner can read.
func LoadOrCreateHostKey(dataDir string) (ssh.Signer, error) {
	path := filepath.Join(dataDir, HostKeyFile)
	signer, err := loadHostKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return signer, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "cpis host key")
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	f, err := os.CreateTemp(dataDir, "."+HostKeyFile+".*.tmp") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(pem.EncodeToMemory(block))
	if err == nil {
		err = durable.Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if err := mesh.SyncDir(dataDir); err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	// Whoever linked first won; everyone uses that key.
	return loadHostKey(path)
}

func loadHostKey(path string) (ssh.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("host key %s: permissions %04o are too open (want 0600)", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return signer, nil
}
