package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cpis/mesh"
	"cpis/store"
)

// meshStdin is where `cpis mesh password --stdin` reads (a variable for
// the tests).
var meshStdin io.Reader = os.Stdin

// maxMeshPassword bounds a password read from standard input.
const maxMeshPassword = 1024

func newMeshCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "mesh", Short: "The MESH API: shared key, mailbox passwords, MESH clients"}
	cmd.AddCommand(newMeshKeyCommand(g), newMeshPasswordCommand(g), newMeshMailboxesCommand(g),
		newMeshConnectCommand(g)) // the hub's own MESH mailbox at a real MESH
	return cmd
}

func newMeshKeyCommand(g *globals) *cobra.Command {
	var rotate bool
	cmd := &cobra.Command{
		Use:   "key [--rotate]",
		Short: "Print the environment's MESH shared key (--rotate: make a new one)",
		Long: `Print the shared key every MESH client of this hub signs its requests with
(the NHSMESH token's HMAC key), alone on a line. cpis init makes it; a store
made before gets one now. --rotate makes a new key and prints it: every
MESH client then needs the new key, requests signed with the old one are
refused at once.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis mesh key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				var key string
				var made bool
				err := db.Update(func(tx *store.Tx) (err error) {
					if rotate {
						key, err = tx.RotateMeshKey(g.nowTime())
						made = true
						return err
					}
					key, made, err = tx.EnsureMeshKey(g.nowTime())
					return err
				})
				if err != nil {
					return err
				}
				if rotate {
					fmt.Fprintln(g.stderr, "A new MESH shared key is in force: give it to every MESH client of this hub.")
				} else if made {
					fmt.Fprintln(g.stderr, "This store had no MESH shared key: one was made.")
				}
				fmt.Fprintln(g.stdout, key)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&rotate, "rotate", false, "make a new shared key, replacing the old one")
	return cmd
}

// meshAuthority returns the LA whose mailbox is mailbox, with a clear
// error for the hub's own mailbox and for an unknown one.
func meshAuthority(db *store.DB, mailbox string) (store.Authority, error) {
	if strings.EqualFold(mailbox, mesh.HubMailbox) {
		return store.Authority{}, fmt.Errorf("%s is the hub's own mailbox: it never logs in", mesh.HubMailbox)
	}
	var found store.Authority
	err := db.View(func(tx *store.Tx) error {
		las, err := tx.Authorities()
		if err != nil {
			return err
		}
		for _, a := range las {
			if strings.EqualFold(a.MailboxID, mailbox) {
				found = a
				return nil
			}
		}
		return fmt.Errorf("%q is no LA's mailbox (mailbox IDs look like LA841HC001)", mailbox)
	})
	return found, err
}

func newMeshPasswordCommand(g *globals) *cobra.Command {
	var fromStdin bool
	var forwarded string // the password read by the client, inside the daemon
	var password []byte
	cmd := &cobra.Command{
		Use:   "password MAILBOX [--stdin]",
		Short: "Set a mailbox's MESH password (a new random one, printed once)",
		Long: `Set the MESH API password of LA mailbox MAILBOX (e.g. LA841HC001), replacing
any: a new random password, printed once on standard output and never
again (the hub keeps it to check tokens; nothing prints it). With --stdin
the password is read from standard input (its final line ending dropped)
and nothing is printed. A mailbox logs in to the MESH API once it has a
password; CPISHUB01, the hub itself, never does.

Exit codes: 0 set, 1 failure (unknown mailbox, empty password), 2 usage.
Example:
  cpis mesh password LA841HC001`,
		Args: cobra.ExactArgs(1),
		// The daemon cannot read this terminal: the password is read here
		// and travels inside the forwarded command, over the owner-only
		// control socket, never on a command line.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if fromStdin && g.daemon == nil {
				b, err := io.ReadAll(io.LimitReader(meshStdin, maxMeshPassword+1))
				if err != nil {
					return fmt.Errorf("read the password from standard input: %w", err)
				}
				if len(b) > maxMeshPassword {
					return usageError{fmt.Errorf("the password on standard input is longer than %d bytes", maxMeshPassword)}
				}
				password = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
				g.args = append(g.args[:len(g.args):len(g.args)], "--forwarded-password="+string(password))
			}
			return cmd.Root().PersistentPreRunE(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case forwarded != "" && g.daemon == nil:
				return usageError{fmt.Errorf("--forwarded-password is for the daemon only: use --stdin")}
			case forwarded != "":
				password = []byte(forwarded)
			case !fromStdin:
				password = store.NewMeshPassword()
			}
			return g.withStore(func(db *store.DB) error {
				a, err := meshAuthority(db, args[0])
				if err != nil {
					return err
				}
				if err := db.Update(func(tx *store.Tx) error {
					return tx.SetMeshPassword(a.Code, a.MailboxID, password, g.nowTime())
				}); err != nil {
					return err
				}
				if !fromStdin {
					fmt.Fprintln(g.stdout, string(password))
					fmt.Fprintf(g.stderr, "New MESH password of %s (LA %s) above: it is shown this once.\n", a.MailboxID, a.Code)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "stdin", false, "read the password from standard input and print nothing")
	cmd.Flags().StringVar(&forwarded, "forwarded-password", "", "")
	_ = cmd.Flags().MarkHidden("forwarded-password")
	return cmd
}

func newMeshMailboxesCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "mailboxes [--json]",
		Short: "List the mailboxes that log in to the MESH API",
		Long: `List the LA mailboxes that have a MESH password: when it was set, their
last handshake and the client they reported there (mex-ClientVersion,
mex-OSName, mex-OSVersion). Never a password.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis mesh mailboxes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				var mbs []store.MeshMailbox
				if err := db.View(func(tx *store.Tx) (err error) { mbs, err = tx.MeshMailboxes(); return err }); err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(g.stdout)
					for _, mb := range mbs {
						if err := enc.Encode(mb); err != nil {
							return err
						}
					}
					return nil
				}
				if len(mbs) == 0 {
					fmt.Fprintln(g.stdout, "No mailbox has a MESH password (cpis mesh password MAILBOX).")
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MAILBOX\tLA\tPASSWORD SET (UTC)\tLAST HANDSHAKE (UTC)\tCLIENT\tOS")
				for _, mb := range mbs {
					hs, client, osName := "never", "-", "-"
					if !mb.LastHandshake.IsZero() {
						hs = mb.LastHandshake.UTC().Format("2006-01-02 15:04")
					}
					if mb.ClientVersion != "" {
						client = mesh.Printable(mb.ClientVersion)
					}
					if mb.OSName != "" || mb.OSVersion != "" {
						osName = mesh.Printable(strings.TrimSpace(mb.OSName + " " + mb.OSVersion))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", mb.MailboxID, mb.LA, mb.PasswordSet.UTC().Format("2006-01-02 15:04"), hs, client, osName)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

// printMeshAudit prints the MESH API audit from from on, oldest first
// (`cpis audit --mesh`).
func printMeshAudit(g *globals, db *store.DB, from time.Time, asJSON bool) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetEscapeHTML(false)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "AT (UTC)\tMAILBOX\tREMOTE\tACTION\tMESSAGE\tCHUNK\tBYTES\tSTATUS\tOUTCOME")
	}
	err := db.View(func(tx *store.Tx) error {
		return tx.MeshAuditEvents(from, func(e store.MeshEvent) error {
			if asJSON {
				return enc.Encode(e)
			}
			status, outcome := fmt.Sprint(e.Status), e.Outcome
			if e.Code != "" {
				status += " (" + e.Code + ")"
			}
			if e.Reason != "" {
				outcome += ": " + e.Reason
			}
			chunk := ""
			if e.Chunk > 0 {
				chunk = fmt.Sprint(e.Chunk)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), mesh.Printable(e.Mailbox), e.Remote,
				e.Action, mesh.Printable(e.MessageID), chunk, e.Bytes, status, mesh.Printable(outcome))
			return nil
		})
	})
	if err != nil || asJSON {
		return err
	}
	return tw.Flush()
}
