package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/access"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/nhsnumber"
)

func newLookupCommand(g *globals) *cobra.Command {
	var req access.Request
	cmd := &cobra.Command{
		Use:   "lookup NHS_NUMBER --org ODS --org-name NAME --setting CODE --user NAME --role ROLE --rbac CODES",
		Short: "Look a person up as a health care setting would (prints the alert JSON)",
		Long: `Answer a health lookup for NHS_NUMBER as 'GET /v1/alerts/{nhs_number}' does,
printing the same JSON: the plans visible today (with their LA's contacts)
and the access history.

An unscheduled setting (ED, MIU, WIC, AMB, OOH, PAED, MAT, 111, EDENT) adds
an access-history entry (unless the same user viewed within 24 hours) and
owes a notification to each LA with a visible plan; a scheduled setting
(GP, CAMHS, SARC, TOP, 0-19, CPAED, DENT) is a silent read. --rbac must
contain B0264 and B0107.

Exit codes: 0 answered (with or without an alert), 1 refused (the error
JSON is printed on stdout) or failure, 2 usage.
Example:
  cpis lookup 9990276579 --org RXX01 --org-name "Example Hospital ED" \
    --setting ED --user "A Clinician" --role "Staff Nurse" --rbac B0264,B0107`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				svc, err := access.New(db, g.nowTime)
				if err != nil {
					return err
				}
				req.NHSNumber, req.Via = args[0], access.CLI
				ans, ref, err := svc.Lookup(cmd.Context(), req)
				if cerr := svc.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false) // the same bytes as the HTTP API
				if ref != nil {
					_ = enc.Encode(ref)
					return silentError{fmt.Errorf("refused: %s", ref.Error)}
				}
				return enc.Encode(ans)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.OrgCode, "org", "", "organisation ODS code")
	f.StringVar(&req.OrgName, "org-name", "", "organisation name")
	f.StringVar(&req.Setting, "setting", "", "care setting code (ED, GP, ...)")
	f.StringVar(&req.UserName, "user", "", "user name")
	f.StringVar(&req.UserRole, "role", "", "user role")
	f.StringVar(&req.RBAC, "rbac", "", "comma-separated RBAC codes")
	return cmd
}

func newOrgsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "orgs", Short: "Health organisations allowed to call the HTTP API"}
	var name string
	var listJSON bool
	add := &cobra.Command{
		Use:   "add ODS --name NAME",
		Short: "Register an organisation and print its API token (once)",
		Long: `Register organisation ODS (3-10 letters or digits) and print a new API
token for it, once: the store keeps only its hash. A second add replaces the
token (the old one stops working at once).

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis orgs add RXX01 --name "Example Hospital Emergency Department"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ods := strings.ToUpper(args[0]) // ODS codes are upper case
			if !odsPattern(ods) {
				return usageError{fmt.Errorf("ODS code %q must be 3-10 letters or digits", ods)}
			}
			if msg := access.CheckFreeText("organisation name", name); msg != "" {
				return usageError{fmt.Errorf("--name: %s", msg)}
			}
			buf := make([]byte, 32)
			if _, err := rand.Read(buf); err != nil {
				return err
			}
			token := "cpis_" + base64.RawURLEncoding.EncodeToString(buf)
			return g.withStore(func(db *store.DB) error {
				if err := db.Update(func(tx *store.Tx) error {
					if err := tx.PutOrg(store.Org{ODS: ods, Name: name, TokenHash: store.TokenHash(token), AddedAt: g.nowTime().UTC()}); err != nil {
						return err
					}
					return tx.Audit(store.AuditEvent{At: g.nowTime(), Action: "org.added", Note: ods})
				}); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s\n", token)
				fmt.Fprintf(g.stderr, "Organisation %s registered. Keep the token above: it is not shown again.\n", ods)
				return nil
			})
		},
	}
	add.Flags().StringVar(&name, "name", "", "organisation name")
	revoke := &cobra.Command{
		Use:   "revoke ODS",
		Short: "End an organisation's API token",
		Long: `Revoke organisation ODS's API token: its requests get 401 from now on.

Exit codes: 0 done, 1 failure (unknown organisation), 2 usage.
Example:
  cpis orgs revoke RXX01`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				return db.Update(func(tx *store.Tx) error {
					o, ok, err := tx.Org(args[0])
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("organisation %q is not registered", args[0])
					}
					o.RevokedAt = g.nowTime().UTC()
					if err := tx.PutOrg(o); err != nil {
						return err
					}
					fmt.Fprintf(g.stdout, "Revoked the API token of %s.\n", o.ODS)
					return tx.Audit(store.AuditEvent{At: g.nowTime(), Action: "org.revoked", Note: o.ODS})
				})
			})
		},
	}
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List registered organisations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				return db.View(func(tx *store.Tx) error {
					orgs, err := tx.Orgs()
					if err != nil {
						return err
					}
					if listJSON {
						// The token's hash stays in the store.
						type listed struct {
							ODS       string    `json:"ods"`
							Name      string    `json:"name"`
							AddedAt   time.Time `json:"added_at"`
							RevokedAt time.Time `json:"revoked_at,omitzero"`
						}
						enc := json.NewEncoder(g.stdout)
						for _, o := range orgs {
							if err := enc.Encode(listed{ODS: o.ODS, Name: o.Name, AddedAt: o.AddedAt, RevokedAt: o.RevokedAt}); err != nil {
								return err
							}
						}
						return nil
					}
					tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ODS\tNAME\tADDED (UTC)\tSTATUS")
					for _, o := range orgs {
						status := "active"
						if !o.RevokedAt.IsZero() {
							status = "revoked " + o.RevokedAt.Format(time.DateTime)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.ODS, o.Name, o.AddedAt.Format(time.DateTime), status)
					}
					return tw.Flush()
				})
			})
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "one JSON object per organisation (ods, name, added_at, revoked_at; never the token)")
	cmd.AddCommand(add, revoke, list)
	return cmd
}

func odsPattern(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func newAuditCommand(g *globals) *cobra.Command {
	var since, org, nhs string
	var asJSON, sftp, meshAudit, webAudit bool
	cmd := &cobra.Command{
		Use:   "audit [--since DATE] [--org ODS] [--nhs NUMBER] [--sftp | --mesh | --web]",
		Short: "Read the lookup audit (who looked at whom), or the SFTP, MESH API or web audit",
		Long: `Print the audit of lookups and refusals, oldest first: time, organisation,
setting, user, NHS number, outcome. --since takes YYYY-MM-DD (London) or an
RFC 3339 time; by default the last 7 days.

With --sftp, the SFTP session audit instead: logins, uploads, downloads,
deletes, renames and refusals, per mailbox (--org and --nhs are refused).
With --mesh, the MESH API audit: handshakes, sends, chunks, deliveries,
downloads, acknowledgements and refusals (kept 90 days).
With --web, the web pages' audit: logins, failures, throttles, set-ups,
logouts, accounts added and removed, and what people did on the pages
(kept 90 days); never a password, token or code.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis audit --since 2026-11-01 --nhs 9990276579`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nhs != "" {
				if n, p := nhsnumber.Normalize(nhs); p == nhsnumber.OK {
					nhs = n
				}
			}
			from := g.nowTime().Add(-7 * 24 * time.Hour)
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return usageError{err}
				}
				from = t
			}
			if n := countTrue(sftp, meshAudit, webAudit); n > 1 {
				return usageError{fmt.Errorf("give one of --sftp, --mesh and --web, not %d", n)}
			}
			if from.After(g.nowTime()) {
				return usageError{fmt.Errorf("--since %s is in the future: nothing could be listed", since)}
			}
			if (sftp || meshAudit || webAudit) && (org != "" || nhs != "") {
				which := "--sftp"
				switch {
				case meshAudit:
					which = "--mesh"
				case webAudit:
					which = "--web"
				}
				return usageError{fmt.Errorf("--org and --nhs select lookups; they do not apply with %s", which)}
			}
			return g.withStore(func(db *store.DB) error {
				if sftp {
					return printSFTPAudit(g, db, from, asJSON)
				}
				if meshAudit {
					return printMeshAudit(g, db, from, asJSON)
				}
				if webAudit {
					return printWebAudit(g, db, from, asJSON)
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetEscapeHTML(false) // what was sent, as sent (escaped only in the table)
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				if !asJSON {
					fmt.Fprintln(tw, "AT (UTC)\tORG\tSETTING\tUSER\tROLE\tNHS NUMBER\tVIA\tOUTCOME\tSTATUS")
				}
				err := db.View(func(tx *store.Tx) error {
					return tx.LookupAudits(from, func(a store.LookupAudit) error {
						if (org != "" && !strings.EqualFold(a.OrgCode, org)) || (nhs != "" && a.NHSNumber != nhs) {
							return nil
						}
						if asJSON {
							return enc.Encode(a)
						}
						outcome := a.Outcome
						if a.Silent {
							outcome += " (silent)"
						}
						// Refused requests keep what was sent, control characters
						// included: shown escaped, never raw on an operator's terminal.
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", a.At.Format(time.RFC3339), mesh.Printable(a.OrgCode), mesh.Printable(a.Setting),
							mesh.Printable(a.UserName), mesh.Printable(a.UserRole), mesh.Printable(a.NHSNumber), a.Via, outcome, a.Status)
						return nil
					})
				})
				if err != nil {
					return err
				}
				if !asJSON {
					return tw.Flush()
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "from this date (YYYY-MM-DD, London) or RFC 3339 time")
	cmd.Flags().StringVar(&org, "org", "", "only this organisation")
	cmd.Flags().StringVar(&nhs, "nhs", "", "only this NHS number")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	cmd.Flags().BoolVar(&sftp, "sftp", false, "the SFTP session audit instead")
	cmd.Flags().BoolVar(&meshAudit, "mesh", false, "the MESH API audit instead")
	cmd.Flags().BoolVar(&webAudit, "web", false, "the web pages' audit instead")
	return cmd
}

// countTrue counts the flags set.
func countTrue(flags ...bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}

// printSFTPAudit prints the SFTP session audit from from on, oldest first.
func printSFTPAudit(g *globals, db *store.DB, from time.Time, asJSON bool) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetEscapeHTML(false)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "AT (UTC)\tSESSION\tMAILBOX\tREMOTE\tEVENT\tPATH\tBYTES\tOUTCOME")
	}
	err := db.View(func(tx *store.Tx) error {
		return tx.SFTPAuditEvents(func(e store.SFTPEvent) error {
			if e.At.Before(from) {
				return nil
			}
			if asJSON {
				return enc.Encode(e)
			}
			event, path, outcome := e.Kind, e.Path, e.Outcome
			if e.Op != "" {
				event += " " + e.Op
			}
			if e.Target != "" {
				path += " -> " + e.Target
			}
			if e.Reason != "" {
				outcome += ": " + e.Reason
			}
			box := e.MailboxID
			if box == "" {
				box = e.User
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\n", e.At.UTC().Format(time.RFC3339), e.Session, mesh.Printable(box), e.Remote,
				event, mesh.Printable(path), e.Bytes, mesh.Printable(outcome))
			return nil
		})
	})
	if err != nil || asJSON {
		return err
	}
	return tw.Flush()
}

// parseSince reads a London date or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, londonLoc())
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q is neither YYYY-MM-DD nor an RFC 3339 time", s)
	}
	return t, nil
}
