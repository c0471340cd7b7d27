package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"cpis/batch/ingest"
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
			db, err := g.openStore()
			if err != nil {
				return err
			}
			defer db.Close()
			open, err := ingest.Open(db)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				for _, m := range open {
					if err := enc.Encode(listedReturn(m)); err != nil {
						return err
					}
				}
				return nil
			}
			if len(open) == 0 {
				fmt.Fprintln(g.stdout, "No held or waiting returns.")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MESSAGE ID\tLA\tSTATE\tFILE\tEXTRACT\tTAKEN (UTC)\tWOULD WITHDRAW")
			for _, m := range open {
				r := listedReturn(m)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.MessageID, r.LA, r.State, r.File, r.Extract, m.TakenAt.Format("2006-01-02 15:04"), r.Withdrawn)
			}
			return tw.Flush()
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

type returnListing struct {
	MessageID string `json:"message_id"`
	LA        string `json:"la"`
	State     string `json:"state"`
	File      string `json:"file"`
	Extract   string `json:"extract_date"`
	Code      string `json:"code,omitempty"`
	Detail    string `json:"detail_code,omitempty"`
	Withdrawn int    `json:"withdrawn"`
}

func listedReturn(m *store.Message) returnListing {
	r := returnListing{MessageID: m.MessageID, LA: m.LA, State: string(m.State), File: m.File, Extract: m.Extract.String()}
	if m.Outcome != nil {
		r.Code, r.Detail, r.Withdrawn = string(m.Outcome.Code), string(m.Outcome.Detail), m.Outcome.Counts.Withdrawn
	}
	return r
}

type heldOperation func(ctx context.Context, cfg ingest.Config, id string) (ingest.Result, error)

func operateHeld(g *globals, cmd *cobra.Command, id string, op heldOperation, verb string) error {
	db, err := g.openStore()
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := op(cmd.Context(), ingest.Config{DataDir: g.data, DB: db, Now: g.nowTime, Log: g.log(), SizeLimit: g.sizeLimit}, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s %s (LA %s, %s): %s %s %s\nResponse: %s\n", verb, res.MessageID, res.LA, res.File, res.Code, res.Detail, countsLine(res.Counts), res.Response)
	return nil
}

func countsLine(c store.Counts) string {
	return fmt.Sprintf("read=%d applied=%d rejected=%d warnings=%d withdrawn=%d", c.Read, c.Applied, c.Rejected, c.Warnings, c.Withdrawn)
}
