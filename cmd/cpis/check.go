package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"cpis/store"
)

func newCheckCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Verify the store: its pages and the hub's invariants",
		Long: `Verify the store (cpis.db in --data): bbolt's consistency check of its
pages, then the hub's invariants: the schema record names exactly the
authorities held; every plan's LA is among the authorities and the
plans_by_la index agrees with the plans both ways; the message_ids,
message_files and open_messages indexes agree with the messages; every
message is in a lifecycle state; every row outcome belongs to a message.

Each problem is one line (bucket, key, what is wrong; never a record),
then a summary. The check reads one consistent view of the store, so it
may run while the daemon works (it runs inside it). To check a backup,
put it as cpis.db in a folder of its own and give that folder as --data.
A store file that cannot be opened at all (empty, truncated, not a store)
is refused as every command refuses it, after a line saying why.

Exit codes: 0 no problem, 1 problems found or failure, 2 usage.
Example:
  cpis --data /srv/cpis check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := g.withStore(func(db *store.DB) error {
				rep, err := db.Check()
				if err != nil {
					return err
				}
				for _, p := range rep.Problems {
					fmt.Fprintln(g.stdout, p)
				}
				counts := strings.Join([]string{count(rep.Authorities, "authority", "authorities"), count(rep.Plans, "plan", "plans"),
					count(rep.Messages, "message", "messages"), count(rep.Outcomes, "row outcome", "row outcomes")}, ", ")
				switch {
				case rep.OK():
					fmt.Fprintf(g.stdout, "%s in %s: no problems (%s).\n", store.FileName, g.data, counts)
					return nil
				case rep.Total > len(rep.Problems):
					fmt.Fprintf(g.stdout, "%s in %s: %d problems, the first %d listed (%s).\n", store.FileName, g.data, rep.Total, len(rep.Problems), counts)
				default:
					fmt.Fprintf(g.stdout, "%s in %s: %s (%s).\n", store.FileName, g.data, count(rep.Total, "problem", "problems"), counts)
				}
				return silentError{errors.New("problems found")}
			})
			if d := store.Damage(err); d != "" {
				fmt.Fprintf(g.stdout, "%s: %s\n", store.FileName, d)
			}
			return err
		},
	}
}

// count is "1 problem" or "n problems".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
