package main

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"cpis/mesh/remote"
	"cpis/store"
)

func newRemotesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "remotes", Short: "LA mailboxes on other SFTP servers: add, list, remove"}
	cmd.AddCommand(newRemotesAddCommand(g), newRemotesListCommand(g), newRemotesRemoveCommand(g))
	return cmd
}

func newRemotesAddCommand(g *globals) *cobra.Command {
	var la, addr, user, key, inbox, outbox string
	cmd := &cobra.Command{
		Use:   "add --la CODE --addr HOST:PORT --user USER --key FILE [--inbox DIR] [--outbox DIR]",
		Short: "Record that an LA's mailbox lives on another SFTP server",
		Long: `Record that LA CODE's mailbox lives on another SFTP server (its own, or a
transfer service): the pull job logs in there as USER with the private key
FILE, fetches the returns waiting in the remote folder --inbox into the
LA's local inbox, and the push job delivers the LA's outbox messages into
the remote folder --outbox. The folders are named from the hub's side, as
the local ones are: --inbox is where the LA puts returns for the hub
(default "inbox"), --outbox where the hub puts what the LA collects
(default "outbox"); absolute, or relative to USER's home folder.

The key stays on disk (its absolute path is recorded): a private key
without a passphrase, readable by its owner only. The server's host key is
checked against <data dir>/known_hosts: check its fingerprint with the
server's owner, then add it, e.g.
  ssh-keyscan -p 2222 sftp.example.org >> /srv/cpis/known_hosts
Adding a remote for an LA that has one replaces it.

Exit codes: 0 added, 1 failure (unknown LA, key file unusable), 2 usage.
Example:
  cpis remotes add --la 841 --addr sftp.darlington.example:22 --user cpis \
    --key /srv/cpis/keys/id_841 --inbox /cpis/to-hub --outbox /cpis/from-hub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range []struct{ v, name string }{{la, "--la CODE"}, {addr, "--addr HOST:PORT"}, {user, "--user USER"}, {key, "--key FILE"}} {
				if f.v == "" {
					return usageError{fmt.Errorf("%s is required", f.name)}
				}
			}
			if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
				return usageError{fmt.Errorf("--addr %q is not HOST:PORT (e.g. sftp.example.org:22)", addr)}
			}
			if strings.TrimSpace(inbox) == "" || strings.TrimSpace(outbox) == "" {
				return usageError{fmt.Errorf("--inbox and --outbox cannot be empty")}
			}
			keyPath, err := filepath.Abs(key)
			if err != nil {
				return err
			}
			signer, err := remote.CheckKeyFile(keyPath)
			if err != nil {
				return err
			}
			return g.withStore(func(db *store.DB) error {
				a, err := authority(db, la)
				if err != nil {
					return err
				}
				r := store.Remote{LA: a.Code, Addr: addr, User: user, KeyFile: keyPath, Inbox: inbox, Outbox: outbox, Added: g.nowTime()}
				var replaced bool
				err = db.Update(func(tx *store.Tx) error {
					if _, replaced, err = tx.Remote(a.Code); err != nil {
						return err
					}
					if err := tx.PutRemote(r); err != nil {
						return err
					}
					return tx.Audit(store.AuditEvent{At: g.nowTime(), Action: "remote_added", LA: a.Code, Note: user + "@" + addr})
				})
				if err != nil {
					return err
				}
				verb := "Added"
				if replaced {
					verb = "Replaced"
				}
				pub := signer.PublicKey()
				fmt.Fprintf(g.stdout, "%s the remote mailbox of LA %s: %s@%s, key %s (%s %s).\n", verb, a.Code, user, addr, keyPath, pub.Type(), ssh.FingerprintSHA256(pub))
				fmt.Fprintf(g.stdout, "Pull fetches returns from %s; push delivers to %s.\n", inbox, outbox)
				known, err := remote.HasHostKey(g.data, addr)
				if err != nil {
					return err
				}
				if !known {
					host, port, _ := net.SplitHostPort(addr)
					fmt.Fprintf(g.stdout, "The host key of %s is not in %s yet: until it is, pull and push fail for LA %s.\n"+
						"Check its fingerprint with the server's owner, then add it:\n  ssh-keyscan -p %s %s >> %s\n",
						addr, filepath.Join(g.data, remote.KnownHostsFile), a.Code, port, host, filepath.Join(g.data, remote.KnownHostsFile))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&la, "la", "", "LA code (3 digits)")
	cmd.Flags().StringVar(&addr, "addr", "", "the SFTP server, HOST:PORT")
	cmd.Flags().StringVar(&user, "user", "", "user name to log in as")
	cmd.Flags().StringVar(&key, "key", "", "private key file (owner-only, no passphrase)")
	cmd.Flags().StringVar(&inbox, "inbox", "inbox", "remote folder the hub pulls returns from")
	cmd.Flags().StringVar(&outbox, "outbox", "outbox", "remote folder the hub pushes messages to")
	markPath(cmd, "key")
	return cmd
}

type listedRemote struct {
	LA      string    `json:"la"`
	Addr    string    `json:"addr"`
	User    string    `json:"user"`
	KeyFile string    `json:"key_file"`
	Inbox   string    `json:"inbox"`
	Outbox  string    `json:"outbox"`
	Added   time.Time `json:"added"`
}

func newRemotesListCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the LAs whose mailbox lives on another SFTP server",
		Long: `List every remote mailbox: LA, server, user, key file, the remote folder
pulled from (inbox), the one pushed to (outbox), and when it was added.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis remotes list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				var rs []store.Remote
				if err := db.View(func(tx *store.Tx) (err error) { rs, err = tx.Remotes(); return err }); err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(g.stdout)
					for _, r := range rs {
						if err := enc.Encode(listedRemote(r)); err != nil {
							return err
						}
					}
					return nil
				}
				if len(rs) == 0 {
					fmt.Fprintln(g.stdout, "No remote mailboxes.")
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "LA\tADDR\tUSER\tKEY\tINBOX\tOUTBOX\tADDED (UTC)")
				for _, r := range rs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.LA, r.Addr, r.User, r.KeyFile, r.Inbox, r.Outbox, r.Added.Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func newRemotesRemoveCommand(g *globals) *cobra.Command {
	var la string
	cmd := &cobra.Command{
		Use:   "remove --la CODE",
		Short: "Stop pulling from and pushing to an LA's remote mailbox",
		Long: `Forget LA CODE's remote mailbox: the next pull and push jobs leave it
alone, and the LA's local mailbox (and the hub's SFTP server) serve it
again. The records of files already pulled stay, so adding the remote back
never brings a return twice. The key file and known_hosts are left as they
are.

Exit codes: 0 removed, 1 failure (the LA has no remote mailbox), 2 usage.
Example:
  cpis remotes remove --la 841`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if la == "" {
				return usageError{fmt.Errorf("--la CODE is required")}
			}
			return g.withStore(func(db *store.DB) error {
				a, err := authority(db, la)
				if err != nil {
					return err
				}
				err = db.Update(func(tx *store.Tx) error {
					ok, err := tx.RemoveRemote(a.Code)
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("LA %s has no remote mailbox (see cpis remotes list)", a.Code)
					}
					return tx.Audit(store.AuditEvent{At: g.nowTime(), Action: "remote_removed", LA: a.Code})
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Removed the remote mailbox of LA %s.\n", a.Code)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&la, "la", "", "LA code (3 digits)")
	return cmd
}
