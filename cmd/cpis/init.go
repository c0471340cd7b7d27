package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"cpis/batch/datadir"
	"cpis/batch/inactive"
	"cpis/batch/sample"
	"cpis/store"
)

func newInitCommand(g *globals) *cobra.Command {
	var authorities, demographics string
	var useSample, force bool
	cmd := &cobra.Command{
		Use:   "init (--authorities FILE [--pds FILE] | --sample)",
		Short: "Make a data directory: store, mailboxes, reference data",
		Long: `Make a data directory (--data): the store, one mailbox per LA with its
inbox and outbox, the archive and the reports folder.

--authorities takes a CSV with the header
  la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone
(mailbox_id may be empty: LA<code>HC001). --pds imports a demographics
reference as 'cpis pds import' does. --sample uses the bundled sample: all
153 English LAs with synthetic phone numbers, and sample demographics.

An existing data directory is refused unless --force, which imports into it
again and keeps its plans, messages and mailboxes. A store file that is
empty or damaged is refused, with or without --force, and left as it is:
restore it from a backup, or move it aside to make a new hub.

Exit codes: 0 done, 1 failure (the file, line and value are named), 2 usage.
Example:
  cpis --data /srv/cpis init --authorities las.csv --pds pds.csv`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annNoDaemon: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if useSample == (authorities != "") {
				return usageError{fmt.Errorf("give either --authorities FILE or --sample")}
			}
			opts := datadir.InitOptions{Force: force, Now: g.nowTime()}
			if useSample {
				if demographics != "" {
					return usageError{fmt.Errorf("--sample brings its own demographics; import others afterwards with 'cpis pds import'")}
				}
				opts.Authorities = datadir.Source{Name: "sample authorities", R: bytes.NewReader(sample.Authorities())}
				opts.Demographics = &datadir.Source{Name: "sample demographics", R: bytes.NewReader(sample.Demographics())}
			} else {
				f, err := os.Open(authorities)
				if err != nil {
					return err
				}
				defer f.Close()
				opts.Authorities = datadir.Source{Name: authorities, R: f}
				if demographics != "" {
					p, err := os.Open(demographics)
					if err != nil {
						return err
					}
					defer p.Close()
					opts.Demographics = &datadir.Source{Name: demographics, R: p}
				}
			}
			if err := datadir.Init(g.data, opts); err != nil {
				if errors.Is(err, store.ErrDamaged) {
					return errors.New(damagedSentence(g.data, "restore it from a backup, or move it aside and run init again to make a new hub"))
				}
				return err
			}
			return printInitSummary(g)
		},
	}
	cmd.Flags().StringVar(&authorities, "authorities", "", "authorities CSV file")
	cmd.Flags().StringVar(&demographics, "pds", "", "demographics reference CSV file")
	cmd.Flags().BoolVar(&useSample, "sample", false, "use the bundled sample authorities and demographics")
	cmd.Flags().BoolVar(&force, "force", false, "import into an existing data directory")
	markPath(cmd, "authorities", "pds")
	return cmd
}

func printInitSummary(g *globals) error {
	return g.withStore(func(db *store.DB) error {
		return db.View(func(tx *store.Tx) error {
			las, err := tx.Authorities()
			if err != nil {
				return err
			}
			ref := "no demographics reference yet (cpis pds import FILE)"
			if tx.HasDemographics() {
				ref = "demographics reference imported"
			}
			fmt.Fprintf(g.stdout, "Initialised %s: %d local authorities, %s.\n", g.data, len(las), ref)
			return nil
		})
	})
}

func newPDSCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "pds", Short: "Demographics reference"}
	cmd.AddCommand(&cobra.Command{
		Use:   "import FILE",
		Short: "Replace the demographics reference with FILE",
		Long: `Replace the demographics reference (a PDS extract) with FILE, a CSV with
exactly the header
  nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death
Any bad line fails the whole import with the file, line and value, and the
previous reference stays. The import replaces the reference as one step.

Exit codes: 0 imported, 1 failure, 2 usage.
Example:
  cpis pds import pds-2026-11-21.csv`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{annPathArgs: "true", annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return g.withStore(func(db *store.DB) error {
				n, err := datadir.ImportDemographics(db, datadir.Source{Name: args[0], R: f}, g.nowTime())
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Imported %d demographic records from %s.\n", n, args[0])
				written, err := inactive.Run(g.data, db, g.nowTime())
				for _, w := range written {
					fmt.Fprintf(g.stdout, "Inactive NHS numbers: %d row(s) for LA %s in %s.\n", w.Rows, w.LA, w.File)
				}
				return err
			})
		},
	})
	return cmd
}
