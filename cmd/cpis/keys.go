package main

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"cpis/store"
)

func newKeysCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "LA public keys for SFTP: add, list, remove"}
	cmd.AddCommand(newKeysAddCommand(g), newKeysListCommand(g), newKeysRemoveCommand(g))
	return cmd
}

// readPublicKey reads the one OpenSSH public key of an authorized_keys
// style file (id_ed25519.pub), with a clear error naming the file.
func readPublicKey(path string) (ssh.PublicKey, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		return nil, "", fmt.Errorf("%s is a private key: give the public key (the .pub file); the private key stays with the LA", path)
	}
	key, comment, options, rest, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s is not an OpenSSH public key (one line such as \"ssh-ed25519 AAAA... name\"): %v", path, err)
	}
	if len(options) > 0 {
		return nil, "", fmt.Errorf("%s: key options (%s) are not supported", path, strings.Join(options, ","))
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		if _, _, _, _, err := ssh.ParseAuthorizedKey(rest); err == nil {
			return nil, "", fmt.Errorf("%s holds more than one key: give one key per file", path)
		}
	}
	switch key.Type() {
	case ssh.KeyAlgoDSA:
		return nil, "", fmt.Errorf("%s: DSA keys are not accepted: use ed25519 (ssh-keygen -t ed25519)", path)
	case ssh.KeyAlgoRSA:
		if ck, ok := key.(ssh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && rk.Size()*8 < 2048 {
				return nil, "", fmt.Errorf("%s: RSA key of %d bits is too short (at least 2048; better ed25519)", path, rk.Size()*8)
			}
		}
	}
	return key, comment, nil
}

func newKeysAddCommand(g *globals) *cobra.Command {
	var la, comment string
	cmd := &cobra.Command{
		Use:   "add --la CODE FILE.pub",
		Short: "Let a public key log in to an LA's mailbox over SFTP",
		Long: `Register the OpenSSH public key in FILE.pub (authorized_keys format, one
key) for LA CODE: whoever holds the private key can then log in to the
hub's SFTP server as the LA's mailbox ID and sees only that mailbox. A key
opens one LA's mailbox only. Prints the key's SHA-256 fingerprint, which
'keys remove' takes. Adding a key the LA already has changes nothing.

Exit codes: 0 added, 1 failure (not a public key, key of another LA,
unknown LA), 2 usage.
Example:
  cpis keys add --la 841 id_ed25519.pub`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{annPathArgs: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if la == "" {
				return usageError{fmt.Errorf("--la CODE is required")}
			}
			key, fileComment, err := readPublicKey(args[0])
			if err != nil {
				return err
			}
			if comment == "" {
				comment = fileComment
			}
			return g.withStore(func(db *store.DB) error {
				a, err := authority(db, la)
				if err != nil {
					return err
				}
				var fp string
				err = db.Update(func(tx *store.Tx) error {
					if fp, err = tx.AddKey(a.Code, a.MailboxID, key, comment, g.nowTime()); err != nil {
						return err
					}
					return tx.Audit(store.AuditEvent{At: g.nowTime(), Action: "sftp_key_added", LA: a.Code, Note: fp})
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Added %s key %s for LA %s: it logs in as %s.\n", key.Type(), fp, a.Code, a.MailboxID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&la, "la", "", "LA code (3 digits)")
	cmd.Flags().StringVar(&comment, "comment", "", "note kept with the key (default: the key file's comment)")
	return cmd
}

type listedKey struct {
	LA          string    `json:"la"`
	Mailbox     string    `json:"mailbox_id"`
	Fingerprint string    `json:"fingerprint"`
	Type        string    `json:"type"`
	Comment     string    `json:"comment"`
	Added       time.Time `json:"added"`
}

func newKeysListCommand(g *globals) *cobra.Command {
	var la string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--la CODE]",
		Short: "List the public keys that may log in over SFTP",
		Long: `List every registered SFTP public key (or those of LA CODE): LA, mailbox,
SHA-256 fingerprint, key type, comment and when it was added.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis keys list --la 841`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				if la != "" {
					if _, err := authority(db, la); err != nil {
						return err
					}
				}
				var keys []store.Key
				if err := db.View(func(tx *store.Tx) (err error) { keys, err = tx.Keys(la); return err }); err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(g.stdout)
					for _, k := range keys {
						if err := enc.Encode(listedKey{k.LA, k.MailboxID, k.Fingerprint, k.Type, k.Comment, k.Added}); err != nil {
							return err
						}
					}
					return nil
				}
				if len(keys) == 0 {
					fmt.Fprintln(g.stdout, "No SFTP keys registered.")
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "LA\tMAILBOX\tFINGERPRINT\tTYPE\tCOMMENT\tADDED (UTC)")
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.LA, k.MailboxID, k.Fingerprint, k.Type, k.Comment, k.Added.Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&la, "la", "", "only this LA")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func newKeysRemoveCommand(g *globals) *cobra.Command {
	var la string
	cmd := &cobra.Command{
		Use:   "remove --la CODE FINGERPRINT",
		Short: "Stop a public key logging in over SFTP",
		Long: `Remove the key with FINGERPRINT (SHA256:..., as 'keys add' and 'keys list'
show it) from LA CODE's keys. New logins with it are refused; the daemon
closes the sessions open with it at once (an upload in progress is
discarded).

Exit codes: 0 removed, 1 failure (the LA has no such key), 2 usage.
Example:
  cpis keys remove --la 841 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if la == "" {
				return usageError{fmt.Errorf("--la CODE is required")}
			}
			fp := args[0]
			if !strings.HasPrefix(fp, "SHA256:") {
				fp = "SHA256:" + fp
			}
			return g.withStore(func(db *store.DB) error {
				a, err := authority(db, la)
				if err != nil {
					return err
				}
				err = db.Update(func(tx *store.Tx) error {
					ok, err := tx.RemoveKey(a.Code, fp)
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("LA %s has no key %s (see cpis keys list --la %s)", a.Code, fp, a.Code)
					}
					return tx.Audit(store.AuditEvent{At: g.nowTime(), Action: "sftp_key_removed", LA: a.Code, Note: fp})
				})
				if err != nil {
					return err
				}
				// Inside the daemon the key's open sessions end at once.
				if g.daemon != nil {
					if srv := g.daemon.sftp.Load(); srv != nil {
						srv.Revalidate()
					}
				}
				fmt.Fprintf(g.stdout, "Removed key %s of LA %s.\n", fp, a.Code)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&la, "la", "", "LA code (3 digits)")
	return cmd
}
