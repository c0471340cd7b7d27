package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"cpis/batch/ingest"
	"cpis/mesh"
	"cpis/store"
)

func newReturnsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "returns", Short: "Held and waiting returns: list, release, discard"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List returns not finished: held, waiting for demographics, interrupted",
		Long: `List every return whose lifecycle is not finished: FULL returns held by
the safety rule (F009), returns waiting for a demographics reference
(CPF05), and any interrupted by a crash (the next ingest finishes them).

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis returns list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				rows, err := ingest.ListUnfinished(g.data, db)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(g.stdout)
					for _, r := range rows {
						if err := enc.Encode(r); err != nil {
							return err
						}
					}
					return nil
				}
				if len(rows) == 0 {
					fmt.Fprintln(g.stdout, "No held or waiting returns.")
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MESSAGE ID\tLA\tSTATE\tFILE\tEXTRACT\tTAKEN (UTC)\tWOULD WITHDRAW")
				for _, r := range rows {
					id, taken := r.MessageID, r.Taken.Format("2006-01-02 15:04")
					if r.Taken.IsZero() {
						id, taken = "-", "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", id, r.LA, r.State, mesh.Printable(r.File), r.Extract, taken, r.Withdrawn)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")

	release := &cobra.Command{
		Use:   "release MESSAGE_ID",
		Short: "Apply a held FULL return as the store is now (no second hold)",
		Long: `Apply a held FULL return against the store as it is now, with no second
safety hold, and write the LA a new response with the result.

Exit codes: 0 applied, 1 failure (e.g. not a held return), 2 usage.
Example:
  cpis returns release 20261121013000123456_3F9A0C`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return operateHeld(g, cmd, args[0], ingest.Release, "Released")
		},
	}
	discard := &cobra.Command{
		Use:   "discard MESSAGE_ID",
		Short: "Discard a held FULL return for good (CPF04/F012)",
		Long: `Discard a held FULL return: it will never be applied, and the LA gets a
final response CPF04/F012.

Exit codes: 0 discarded, 1 failure (e.g. not a held return), 2 usage.
Example:
  cpis returns discard 20261121013000123456_3F9A0C`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return operateHeld(g, cmd, args[0], ingest.Discard, "Discarded")
		},
	}
	cmd.AddCommand(list, release, discard)
	return cmd
}

type heldOperation func(ctx context.Context, cfg ingest.Config, id string) (ingest.Result, error)

func operateHeld(g *globals, cmd *cobra.Command, id string, op heldOperation, verb string) error {
	return g.withStore(func(db *store.DB) error {
		res, err := op(cmd.Context(), ingest.Config{DataDir: g.data, DB: db, Now: g.nowTime, Log: g.log(), SizeLimit: g.sizeLimit}, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s %s (LA %s, %s): %s %s %s\nResponse: %s\n", verb, res.MessageID, res.LA, mesh.Printable(res.File), res.Code, res.Detail, res.Counts, res.Response)
		return nil
	})
}
