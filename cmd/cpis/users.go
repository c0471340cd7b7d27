package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/accounts"
	"cpis/mesh"
	"cpis/store"
)

// defaultBaseURL is where `cpis serve` answers by default (--http
// 127.0.0.1:8443, plain HTTP since it is loopback).
const defaultBaseURL = "http://127.0.0.1:8443"

func newUsersCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "People who use the web pages: LA data officers and operations"}
	var la, baseURL string
	var ops, listJSON bool
	add := &cobra.Command{
		Use:   "add (--la CODE | --ops) EMAIL [--base-url URL]",
		Short: "Make a web account and print its one-time set-up link",
		Long: `Make a web account for EMAIL: an LA data officer of LA CODE (--la), who
sees and touches only that LA, or operations (--ops), who see all LAs. The
command prints a set-up link, <base-url>/setup/<token>, once: the store
keeps only its hash. It works once, for 24 hours; there the person chooses
a password (12 characters or more, at least 6 different ones, not the
email, not one of the most used) and enrols an authenticator app (TOTP),
which signs them in. Send it to them by a channel you trust; a link
that expired is replaced by ` + "`cpis users reset`" + `.

--base-url is the address people reach the hub's web pages at: where
` + "`cpis serve --http`" + ` is reached from their browsers, not where it listens
(default http://127.0.0.1:8443, serve's default --http without TLS, which
only works on this machine; with TLS, https://; behind a proxy, the
proxy's address). A link with the wrong base does not open.

Exit codes: 0 done, 1 failure (unknown LA, existing user), 2 usage.
Example:
  cpis users add --la 841 --base-url https://cpis.nhs.example officer@example.org`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ops == (la != "") {
				return usageError{fmt.Errorf("give --la CODE or --ops (one of them)")}
			}
			base, err := checkBaseURL(baseURL)
			if err != nil {
				return usageError{err}
			}
			email, err := accounts.NormalizeEmail(args[0])
			if err != nil {
				return usageError{err}
			}
			role := accounts.RoleOps
			if !ops {
				role = accounts.RoleLA
			}
			return g.withStore(func(db *store.DB) error {
				svc := accounts.New(db, accounts.Options{Now: g.nowTime})
				token, err := svc.Add(email, role, la)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s/setup/%s\n", base, token)
				who := "operations"
				if !ops {
					who = "LA " + la
				}
				fmt.Fprintf(g.stderr, "User %s added (%s). Send them the link above: it works once, until %s UTC, and is not shown again.\n",
					email, who, g.nowTime().UTC().Add(24*time.Hour).Format(time.DateTime))
				return nil
			})
		},
	}
	add.Flags().StringVar(&la, "la", "", "the LA the officer works for (3-digit code)")
	add.Flags().BoolVar(&ops, "ops", false, "an operations user (all LAs)")
	add.Flags().StringVar(&baseURL, "base-url", defaultBaseURL, "the web pages' address, as people reach it")
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the web accounts",
		Long: `List the web accounts by email: role, LA, when added, whether set-up is
complete (or until when its link works), last login, and until when the
account is locked after too many failed logins ("-" when it is not; see
` + "`cpis users unlock`" + `). Never a password, token or authenticator key.

Exit codes: 0 done, 1 failure.
Example:
  cpis users list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				users, err := accounts.New(db, accounts.Options{Now: g.nowTime}).List()
				if err != nil {
					return err
				}
				if listJSON {
					type listed struct {
						Email        string    `json:"email"`
						Role         string    `json:"role"`
						LA           string    `json:"la,omitempty"`
						Created      time.Time `json:"created"`
						Enrolled     bool      `json:"enrolled"`
						SetupExpires time.Time `json:"setup_expires,omitzero"`
						LastLogin    time.Time `json:"last_login,omitzero"`
						LockedUntil  time.Time `json:"locked_until,omitzero"`
					}
					enc := json.NewEncoder(g.stdout)
					for _, u := range users {
						if err := enc.Encode(listed{Email: u.Email, Role: string(u.Role), LA: u.LA, Created: u.Created, Enrolled: u.Enrolled,
							SetupExpires: u.SetupExpires, LastLogin: u.LastLogin, LockedUntil: u.LockedUntil}); err != nil {
							return err
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tROLE\tLA\tADDED (UTC)\tSTATUS\tLAST LOGIN (UTC)\tLOCKED UNTIL (UTC)")
				for _, u := range users {
					status := "active"
					switch {
					case u.Enrolled:
					case g.nowTime().Before(u.SetupExpires):
						status = "set-up link until " + u.SetupExpires.UTC().Format(time.DateTime)
					default:
						status = "set-up link expired"
					}
					last := "-"
					if !u.LastLogin.IsZero() {
						last = u.LastLogin.UTC().Format(time.DateTime)
					}
					laCode := u.LA
					if laCode == "" {
						laCode = "-"
					}
					locked := "-"
					if !u.LockedUntil.IsZero() {
						locked = u.LockedUntil.UTC().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, u.Role, laCode, u.Created.UTC().Format(time.DateTime), status, last, locked)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "one JSON object per user (email, role, la, created, enrolled, setup_expires, last_login, locked_until)")
	remove := &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Remove a web account and end its sessions",
		Long: `Remove EMAIL's web account: its sessions end at once and it can no longer
log in (its set-up link stops working too).

Exit codes: 0 done, 1 failure (no such user), 2 usage.
Example:
  cpis users remove officer@example.org`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				err := accounts.New(db, accounts.Options{Now: g.nowTime}).Remove(args[0])
				if err != nil {
					return noAccount(err, args[0])
				}
				fmt.Fprintf(g.stdout, "Removed %s; their sessions have ended.\n", accounts.EmailKey(args[0]))
				return nil
			})
		},
	}
	var resetBase string
	reset := &cobra.Command{
		Use:   "reset EMAIL [--base-url URL]",
		Short: "Start a web account's set-up again and print its new link",
		Long: `Start EMAIL's set-up again, for a set-up link that expired or a person who
lost their authenticator app or password: the password and the
authenticator key stop working, the account's sessions end, and a new
one-time set-up link is printed, valid 24 hours. Role and LA stay.

Exit codes: 0 done, 1 failure (no such user), 2 usage.
Example:
  cpis users reset --base-url https://cpis.nhs.example officer@example.org`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := checkBaseURL(resetBase)
			if err != nil {
				return usageError{err}
			}
			return g.withStore(func(db *store.DB) error {
				token, err := accounts.New(db, accounts.Options{Now: g.nowTime}).Reset(args[0])
				if err != nil {
					return noAccount(err, args[0])
				}
				fmt.Fprintf(g.stdout, "%s/setup/%s\n", base, token)
				fmt.Fprintf(g.stderr, "Set-up of %s started again; their password, authenticator and sessions no longer work. Send them the link above: it works once, until %s UTC, and is not shown again.\n",
					accounts.EmailKey(args[0]), g.nowTime().UTC().Add(24*time.Hour).Format(time.DateTime))
				return nil
			})
		},
	}
	reset.Flags().StringVar(&resetBase, "base-url", defaultBaseURL, "the web pages' address, as people reach it")
	unlock := &cobra.Command{
		Use:   "unlock EMAIL",
		Short: "End a web account's lock after too many failed logins",
		Long: `End EMAIL's login lock: 5 failed logins (or set-up codes) within 15
minutes lock an account for 15 minutes, whoever typed them. Unlock it
once the person has shown who they are; its recent failures are
forgotten too. An address's own lock (50 failures within 15 minutes from
one address) is not changed: it runs out. ` + "`cpis users list`" + ` shows which
accounts are locked. The unlock is in ` + "`cpis audit --web`" + ` (user.unlocked).

Exit codes: 0 done, 1 failure (no such user), 2 usage.
Example:
  cpis users unlock officer@example.org`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				was, err := accounts.New(db, accounts.Options{Now: g.nowTime}).Unlock(args[0])
				if err != nil {
					return noAccount(err, args[0])
				}
				email := accounts.EmailKey(args[0])
				if was {
					fmt.Fprintf(g.stdout, "Unlocked %s: they can sign in again.\n", email)
				} else {
					fmt.Fprintf(g.stdout, "%s was not locked; its recent failed logins are forgotten.\n", email)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, remove, reset, unlock)
	return cmd
}

// checkBaseURL returns the web pages' base address without a trailing
// slash, or why it will not do.
func checkBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("--base-url %q is not an http:// or https:// address (scheme, host, optional path)", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// printWebAudit prints the web audit from from on, oldest first
// (`cpis audit --web`).
func printWebAudit(g *globals, db *store.DB, from time.Time, asJSON bool) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetEscapeHTML(false)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "AT (UTC)\tUSER\tREMOTE\tACTION\tDETAIL")
	}
	err := db.View(func(tx *store.Tx) error {
		return tx.WebAuditEvents(from, func(e store.WebEvent) error {
			if asJSON {
				return enc.Encode(e)
			}
			// What a browser sent (a typed email, an address) is shown
			// escaped, never raw on an operator's terminal.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), orDash(mesh.Printable(e.User)), orDash(mesh.Printable(e.Remote)),
				mesh.Printable(e.Action), mesh.Printable(e.Detail))
			return nil
		})
	})
	if err != nil || asJSON {
		return err
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// noAccount is err of a command on email's account, saying so plainly when
// there is no such account.
func noAccount(err error, email string) error {
	if errors.Is(err, accounts.ErrNoUser) {
		return fmt.Errorf("%q has no web account", email)
	}
	return err
}
