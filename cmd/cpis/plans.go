package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"cpis/store"
	"cpis/store/plans"
)

// PlansHeader is the header of `cpis plans export`.
const PlansHeader = "nhs_number,la_code,plan_type,start_date,end_date,due_date,local_id,visible_until"

func newPlansCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plans", Short: "Plans held by the hub"}
	var la string
	export := &cobra.Command{
		Use:   "export [--la CODE]",
		Short: "Every plan held, as CSV on stdout",
		Long: `Write every plan held (or one LA's) as CSV on stdout, with the header
  ` + PlansHeader + `
sorted by NHS number, LA code and plan type; dates YYYY-MM-DD; visible_until
is the last day the plan is visible (inclusive), empty when it is open with
no bound. UTF-8, CRLF line ends.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis plans export --la 841 > plans-841.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				if la != "" {
					if _, err := authority(db, la); err != nil {
						return err
					}
				}
				return db.View(func(tx *store.Tx) error { return exportPlans(g.stdout, tx, la) })
			})
		},
	}
	export.Flags().StringVar(&la, "la", "", "only this LA")
	cmd.AddCommand(export)
	return cmd
}

func exportPlans(w io.Writer, tx *store.Tx, la string) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(strings.Split(PlansHeader, ",")); err != nil {
		return err
	}
	err := tx.AllPlans(func(p plans.Plan) error {
		if la != "" && p.LA != la {
			return nil
		}
		dob, err := tx.DateOfBirth(p.NHS)
		if err != nil {
			return err
		}
		until, bounded := p.VisibleUntil(dob)
		vis := ""
		if bounded {
			vis = until.String()
		}
		return cw.Write([]string{p.NHS, p.LA, string(p.Type), p.Start.String(), p.End.String(), p.Due.String(), p.LocalID, vis})
	})
	if err != nil {
		return fmt.Errorf("export plans: %w", err)
	}
	cw.Flush()
	return cw.Error()
}
