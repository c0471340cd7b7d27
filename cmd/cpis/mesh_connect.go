package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"cpis/mesh/meshclient"
	"cpis/store"
)

// maxMeshChunk is the largest --chunk-size: MESH takes up to 100 MiB a
// request, and a chunk is sent gzipped (which may grow it slightly).
const maxMeshChunk = 100<<20 - 1<<20

func newMeshConnectCommand(g *globals) *cobra.Command {
	var (
		rawURL, mailbox, passwordFile, keyFile string
		certFile, certKeyFile, caFile, push    string
		chunkSize                              int64
	)
	cmd := &cobra.Command{
		Use:   "connect --url URL --mailbox ID --password-file F --shared-key-file F [--cert F --key F --ca F] [--chunk-size N] [--push all|none|CODE,...]",
		Short: "Record the hub's own mailbox at a real MESH",
		Long: `Record the hub's own mailbox at a real MESH (one; connecting again replaces
it). Then the pull job also lists that mailbox's inbox, puts each
CPIS_LA_UPLOAD message into the inbox folder of the LA whose mailbox sent
it (message ID kept), and acknowledges it; other messages are archived
under <data dir>/archive/mesh/unrouted and reported. The push job sends
LA outbox messages to the LAs' MESH mailboxes (--push: "all", the
default, is every LA without an SFTP remote mailbox; "none"; or LA codes
separated by commas) and archives them as collected.

URL is MESH's base URL, without /messageexchange. The password and the
environment's shared key stay in their files (readable by their owner
only; their absolute paths are recorded and they are read at each run,
so a new password needs only the file changed). --cert and --key are the
client certificate and its private key (PEM) that MESH requires; --ca the
CA certificates that sign MESH's server certificate (default: the
system's). Messages above --chunk-size bytes (default 20 MiB, at most 99
MiB) are sent in chunks. Nothing secret is printed or logged.

Exit codes: 0 recorded, 1 failure (a file unusable), 2 usage.
Example:
  cpis mesh connect --url https://msg.intspineservices.nhs.uk \
    --mailbox X26OT123 --password-file /srv/cpis/mesh/password \
    --shared-key-file /srv/cpis/mesh/shared-key \
    --cert /srv/cpis/mesh/client.pem --key /srv/cpis/mesh/client.key \
    --ca /srv/cpis/mesh/mesh-ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range []struct{ v, name string }{{rawURL, "--url URL"}, {mailbox, "--mailbox ID"},
				{passwordFile, "--password-file F"}, {keyFile, "--shared-key-file F"}} {
				if f.v == "" {
					return usageError{fmt.Errorf("%s is required", f.name)}
				}
			}
			u, err := url.Parse(rawURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
				return usageError{fmt.Errorf("--url %q is not an http(s) base URL (e.g. https://msg.intspineservices.nhs.uk)", rawURL)}
			}
			if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/messageexchange") {
				return usageError{fmt.Errorf("--url is MESH's base URL, without /messageexchange")}
			}
			if (certFile == "") != (certKeyFile == "") {
				return usageError{fmt.Errorf("--cert and --key go together")}
			}
			if chunkSize < 0 || chunkSize > maxMeshChunk {
				return usageError{fmt.Errorf("--chunk-size %d is not between 1 and %d bytes", chunkSize, maxMeshChunk)}
			}
			if strings.ContainsAny(mailbox, "/:?# ") {
				return usageError{fmt.Errorf("--mailbox %q is not a mailbox ID", mailbox)}
			}
			conn := store.MeshConn{URL: strings.TrimRight(rawURL, "/"), Mailbox: strings.ToUpper(mailbox), ChunkSize: chunkSize,
				Push: strings.TrimSpace(push), Added: g.nowTime()}
			for _, f := range []struct {
				dst        *string
				path, what string
				secret     bool
			}{
				{&conn.PasswordFile, passwordFile, "password", true}, {&conn.SharedKeyFile, keyFile, "shared key", true},
				{&conn.CertFile, certFile, "certificate", false}, {&conn.KeyFile, certKeyFile, "certificate key", true},
				{&conn.CAFile, caFile, "CA", false},
			} {
				if f.path == "" {
					continue
				}
				abs, err := filepath.Abs(f.path)
				if err != nil {
					return err
				}
				if err := checkMeshFile(abs, f.what, f.secret); err != nil {
					return err
				}
				*f.dst = abs
			}
			if conn.CertFile != "" || conn.CAFile != "" {
				if _, err := meshclient.TLSConfig(conn.CertFile, conn.KeyFile, conn.CAFile); err != nil {
					return err
				}
			}
			return g.withStore(func(db *store.DB) error {
				var replaced bool
				err := db.Update(func(tx *store.Tx) error {
					if err := checkPushLAs(tx, conn); err != nil {
						return err
					}
					var err error
					if _, replaced, err = tx.MeshConn(); err != nil {
						return err
					}
					if _, err := tx.RemoveMeshConn(); err != nil { // a new mailbox handshakes afresh
						return err
					}
					if err := tx.PutMeshConn(conn); err != nil {
						return err
					}
					return tx.Audit(store.AuditEvent{At: g.nowTime(), Action: "mesh_connected", Note: conn.Mailbox + " at " + conn.URL})
				})
				if err != nil {
					return err
				}
				verb := "Recorded"
				if replaced {
					verb = "Replaced"
				}
				fmt.Fprintf(g.stdout, "%s the hub's MESH mailbox %s at %s.\n", verb, conn.Mailbox, conn.URL)
				fmt.Fprintf(g.stdout, "Its password and shared key stay in %s and %s, read at each run.\n", conn.PasswordFile, conn.SharedKeyFile)
				switch codes, all := conn.PushLAs(); {
				case all:
					fmt.Fprintln(g.stdout, "Pull brings its inbox into the LAs' inboxes; push sends the outbox of every LA without an SFTP remote mailbox over MESH.")
				case len(codes) == 0:
					fmt.Fprintln(g.stdout, "Pull brings its inbox into the LAs' inboxes; push sends nothing over MESH.")
				default:
					fmt.Fprintf(g.stdout, "Pull brings its inbox into the LAs' inboxes; push sends the outbox of LA %s over MESH (those without an SFTP remote mailbox).\n", strings.Join(codes, ", "))
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&rawURL, "url", "", "MESH base URL, without /messageexchange")
	f.StringVar(&mailbox, "mailbox", "", "the hub's mailbox ID at MESH")
	f.StringVar(&passwordFile, "password-file", "", "file holding the mailbox's password (owner-only)")
	f.StringVar(&keyFile, "shared-key-file", "", "file holding the environment's shared key (owner-only)")
	f.StringVar(&certFile, "cert", "", "client certificate (PEM)")
	f.StringVar(&certKeyFile, "key", "", "the client certificate's private key (PEM, owner-only)")
	f.StringVar(&caFile, "ca", "", "CA certificates of MESH's server certificate (PEM; default the system's)")
	f.Int64Var(&chunkSize, "chunk-size", 0, "send messages above this many bytes in chunks (0: 20 MiB)")
	f.StringVar(&push, "push", store.MeshPushAll, `LAs whose outbox push sends over MESH: "all" (those without an SFTP remote), "none", or codes separated by commas`)
	markPath(cmd, "password-file", "shared-key-file", "cert", "key", "ca")
	return cmd
}

// checkMeshFile checks a file connect records: a regular, readable,
// non-empty file, and for a secret one readable by its owner only. It
// never says what the file holds.
func checkMeshFile(path, what string, secret bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s file: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s file %s is not a regular file", what, path)
	}
	if secret && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s file %s must be readable by its owner only (chmod 600 %s)", what, path, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s file: %w", what, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return fmt.Errorf("%s file %s is empty", what, path)
	}
	return nil
}

// checkPushLAs checks that the LAs conn.Push names are the hub's.
func checkPushLAs(tx *store.Tx, conn store.MeshConn) error {
	codes, _ := conn.PushLAs()
	for _, c := range codes {
		if _, ok, err := tx.Authority(c); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("--push: LA %q is not one of the hub's authorities", c)
		}
	}
	return nil
}
