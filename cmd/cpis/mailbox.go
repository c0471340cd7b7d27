package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/returns"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
)

func newMailboxCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "mailbox", Short: "LA mailboxes: send returns, list what waits"}
	cmd.AddCommand(newMailboxSendCommand(g), newMailboxListCommand(g))
	return cmd
}

// authority returns the LA with code, or a clear error.
//
// A code that is not three digits is a usage error (exit 2): no store
// could hold it. A well-formed code the hub does not know is a failure.
func authority(db *store.DB, code string) (store.Authority, error) {
	if !store.ValidLACode(code) {
		return store.Authority{}, usageError{fmt.Errorf("--la %q: an LA code is 3 digits, such as 841", code)}
	}
	var a store.Authority
	err := db.View(func(tx *store.Tx) error {
		var ok bool
		var err error
		a, ok, err = tx.Authority(code)
		if err == nil && !ok {
			err = fmt.Errorf("LA %q is not one of the hub's authorities", code)
		}
		return err
	})
	return a, err
}

func newMailboxSendCommand(g *globals) *cobra.Command {
	var la string
	cmd := &cobra.Command{
		Use:   "send --la CODE FILE...",
		Short: "Drop returns into an LA's inbox, as the LA's MESH client would",
		Long: `Copy each FILE into the inbox of LA CODE's mailbox with a DTSControl
control file (a new message ID, workflow CPIS_LA_UPLOAD), each written
atomically: data file first, control file last. The next ingest takes them.

Exit codes: 0 sent, 1 failure, 2 usage.
Example:
  cpis mailbox send --la 841 CPIS_841_FULL_20261121.csv`,
		Args:        cobra.MinimumNArgs(1),
		Annotations: map[string]string{annPathArgs: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if la == "" {
				return usageError{fmt.Errorf("--la CODE is required")}
			}
			var a store.Authority
			if err := g.withStore(func(db *store.DB) (err error) { a, err = authority(db, la); return err }); err != nil {
				return err
			}
			mb := local.Open(g.data, a.MailboxID)
			for _, path := range args {
				name := filepath.Base(path)
				if err := mesh.CheckName(name); err != nil {
					return fmt.Errorf("%s: %w", mesh.Printable(path), err)
				}
				subject := "CP-IS return"
				if n, err := returns.ParseName(name); err == nil {
					subject = fmt.Sprintf("%s return %s", n.Kind, n.Extract)
				}
				now := g.nowTime()
				ctl := mesh.Control{
					Version: "1.0", AddressType: "DTS", MessageType: "Data",
					From: a.MailboxID, To: mesh.HubMailbox, Subject: subject, LocalID: name,
					DTSID: mesh.NewMessageID(now), WorkflowID: mesh.WorkflowUpload,
					IsCompressed: strings.HasSuffix(strings.ToLower(name), ".gz"),
				}
				got, err := mb.Send(path, ctl)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Sent %s to %s inbox as message %s.\n", mesh.Printable(got), a.MailboxID, ctl.DTSID)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&la, "la", "", "LA code (3 digits)")
	return cmd
}

type listedFile struct {
	LA         string    `json:"la"`
	Mailbox    string    `json:"mailbox_id"`
	Folder     string    `json:"folder"`
	File       string    `json:"file"`
	Size       int64     `json:"size"`
	Modified   time.Time `json:"modified"`
	HasControl bool      `json:"has_control"`
}

func newMailboxListCommand(g *globals) *cobra.Command {
	var la string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--la CODE]",
		Short: "List what waits in mailboxes: returns in inboxes, messages in outboxes",
		Long: `List the data files waiting in each LA's inbox (returns not yet taken)
and outbox (messages not yet collected), with size and modification time.
Mailboxes with nothing waiting are left out.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis mailbox list --la 841`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var las []store.Authority
			if err := g.withStore(func(db *store.DB) error {
				if la != "" {
					a, err := authority(db, la)
					las = []store.Authority{a}
					return err
				}
				return db.View(func(tx *store.Tx) (err error) { las, err = tx.Authorities(); return err })
			}); err != nil {
				return err
			}
			var out []listedFile
			for _, a := range las {
				mb := local.Open(g.data, a.MailboxID)
				in, err := mb.InboxFiles()
				if err != nil {
					return err
				}
				outb, err := mb.Outbox()
				if err != nil {
					return err
				}
				for folder, fs := range map[string][]local.OutFile{"inbox": in, "outbox": outb} {
					for _, f := range fs {
						out = append(out, listedFile{LA: a.Code, Mailbox: a.MailboxID, Folder: folder, File: f.Name, Size: f.Size, Modified: f.ModTime.UTC(), HasControl: f.HasControl})
					}
				}
			}
			sortListed(out)
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				for _, f := range out {
					if err := enc.Encode(f); err != nil {
						return err
					}
				}
				return nil
			}
			if len(out) == 0 {
				fmt.Fprintln(g.stdout, "Nothing waits in any mailbox.")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LA\tMAILBOX\tFOLDER\tFILE\tSIZE\tMODIFIED (UTC)")
			for _, f := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", f.LA, f.Mailbox, f.Folder, mesh.Printable(f.File), f.Size, f.Modified.Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&la, "la", "", "only this LA")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func sortListed(fs []listedFile) {
	less := func(a, b listedFile) bool {
		if a.LA != b.LA {
			return a.LA < b.LA
		}
		if a.Folder != b.Folder {
			return a.Folder < b.Folder
		}
		return a.File < b.File
	}
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j], fs[j-1]); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}
