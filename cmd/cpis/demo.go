package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/access"
	"cpis/batch/ingest"
	"cpis/batch/notify"
	"cpis/batch/sample"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
)

func newDemoCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo [DIR]",
		Short: "A guided run of the whole nightly cycle on the bundled sample",
		Long: `Make a fresh data directory (DIR, which must be absent or empty; by default
a new temporary directory) from the bundled sample: all 153 LAs, sample
demographics, and returns for several LAs, including bad rows, a FULL
return the safety rule holds, and a repeat. Then run the nightly cycle and
print what happened and which response files to open.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis demo /tmp/cpis-demo`,
		Args:        cobra.MaximumNArgs(1),
		Annotations: map[string]string{annLocal: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
				if err := emptyOrAbsent(dir); err != nil {
					return err
				}
			} else {
				var err error
				if dir, err = os.MkdirTemp("", "cpis-demo-"); err != nil {
					return err
				}
			}
			g.data = dir
			return runDemo(g, cmd)
		},
	}
}

func emptyOrAbsent(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("demo: %s is not empty; give an absent or empty directory", dir)
	}
	return nil
}

func runDemo(g *globals, cmd *cobra.Command) error {
	w := g.stdout
	fmt.Fprintf(w, "CP-IS hub demo in %s\n\n", g.data)
	if err := newRootInit(g); err != nil {
		return err
	}
	today := caldate.InLondon(g.nowTime())
	files := sample.Returns(today)
	first, repeat := files[:len(files)-1], files[len(files)-1]

	fmt.Fprintf(w, "1. LA data teams drop %d returns into their inboxes (as their MESH clients would):\n", len(first))
	for _, f := range first {
		if err := demoSend(g, f); err != nil {
			return err
		}
	}

	return g.withStore(func(db *store.DB) error {
		fmt.Fprintf(w, "\n2. The nightly run (cpis nightly): ingest, expire, notify, report.\n\n")
		rep, err := runNightly(g, cmd, db, false)
		if err != nil {
			return err
		}

		fmt.Fprintf(w, "\n3. Darlington's MESH client sends its DELTA return again (a repeat):\n")
		if err := demoSend(g, repeat); err != nil {
			return err
		}
		rep2, err := runIngest(cmd.Context(), g.recordedEnv(db, cmd), g, nil)
		if err != nil {
			return err
		}
		printIngest(w, rep2, false)
		if err := demoTour(g, db, append(rep.Results, rep2.Results...)); err != nil {
			return err
		}
		if err := demoLookups(g, cmd, db); err != nil {
			return err
		}
		demoConsole(w, g.data)
		fmt.Fprintf(w, "\nThe data directory stays for you to explore: %s\n", g.data)
		return nil
	})
}

// demoLookups shows health lookups (one silent, one with no alert) and the
// access files the LAs get the next night.
func demoLookups(g *globals, cmd *cobra.Command, db *store.DB) error {
	w := g.stdout
	svc, err := access.New(db, g.nowTime)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n6. Health lookups (cpis lookup, or GET /v1/alerts/{nhs_number} under cpis serve):\n")
	for _, q := range []struct{ nhs, setting, user, why string }{
		{sample.TestPatient, "ED", "A Clinician", "emergency department: unscheduled, recorded and notified"},
		{sample.TestPatient, "ED", "A Clinician", "the same user again within 24 hours: no new history entry, notified again"},
		{sample.TestPatient, "GP", "B Doctor", "general practice: a silent read, audited only"},
		{sample.UnknownNHS, "111", "C Adviser", "NHS 111, a person with no plan: no alert"},
	} {
		ans, ref, err := svc.Lookup(cmd.Context(), access.Request{NHSNumber: q.nhs, OrgCode: "RXX01", OrgName: "Example Hospital",
			Setting: q.setting, UserName: q.user, UserRole: "Staff Nurse", RBAC: "B0264,B0107", Via: access.CLI})
		if err != nil {
			return err
		}
		if ref != nil {
			return fmt.Errorf("demo lookup refused: %s", ref.Error)
		}
		fmt.Fprintf(w, "   %s %-5s alert=%-5v plans=%d history=%d  (%s)\n", q.nhs, q.setting, ans.Alert, len(ans.Plans), len(ans.AccessHistory), q.why)
	}
	if err := svc.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "   Try: cpis --data %s lookup %s --org RXX01 --org-name \"Example Hospital\" --setting ED --user \"A Clinician\" --role \"Staff Nurse\" --rbac B0264,B0107\n", g.data, sample.TestPatient)

	// The next night: every LA gets yesterday's accesses (header only when
	// there were none).
	y, m, d := caldate.InLondon(g.nowTime()).AddDays(1).YMD()
	night := time.Date(y, m, d, 3, 10, 0, 0, caldate.London)
	written, err := notify.Run(notify.Config{DataDir: g.data, DB: db, Now: night})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n7. The next night (the demo moves its clock to %s), cpis notify writes each LA's access file:\n", night.Format("2006-01-02 15:04 MST"))
	header := 0
	for _, f := range written {
		if f.Rows == 0 {
			header++
			continue
		}
		a, err := authority(db, f.LA)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   %s  (%d access row(s))\n", filepath.Join(g.data, "mailboxes", a.MailboxID, "outbox", f.File), f.Rows)
	}
	fmt.Fprintf(w, "   ... and %d header-only files for the LAs whose children nobody looked up.\n", header)
	fmt.Fprintf(w, "   Audit of every lookup: cpis --data %s audit --since %s\n", g.data, caldate.InLondon(g.nowTime()))
	return nil
}

func newRootInit(g *globals) error {
	root := newRootCommand(io.Discard, g.stderr)
	args := []string{"--data", g.data, "init", "--sample"}
	if g.now != "" {
		args = append([]string{"--now", g.now}, args...)
	}
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "cpis init --sample: 153 local authorities, each with a mailbox; sample demographics imported.\n\n")
	return nil
}

func demoSend(g *globals, f sample.File) error {
	tmp, err := os.MkdirTemp("", "cpis-send-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, f.Name)
	if err := os.WriteFile(path, f.Data, 0o600); err != nil {
		return err
	}
	box := mesh.MailboxID(f.LA)
	ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: box, To: mesh.HubMailbox,
		Subject: "CP-IS return", LocalID: f.Name, DTSID: mesh.NewMessageID(g.nowTime()), WorkflowID: mesh.WorkflowUpload,
		IsCompressed: strings.HasSuffix(strings.ToLower(f.Name), ".gz")}
	if _, err := local.Open(g.data, box).Send(path, ctl); err != nil {
		return fmt.Errorf("send %s: %w", f.Name, err)
	}
	fmt.Fprintf(g.stdout, "   %s  ->  mailboxes/%s/inbox/\n", f.Name, box)
	return nil
}

func demoTour(g *globals, db *store.DB, results []ingest.Result) error {
	w := g.stdout
	fmt.Fprintf(w, "\n4. What happened:\n")
	for _, r := range results {
		fmt.Fprintf(w, "   %-44s %s %-4s %s\n", r.File, r.Code, r.Detail, describe(r))
	}
	open, err := ingest.Open(db)
	if err != nil {
		return err
	}
	for _, m := range open {
		if m.State == store.Held {
			fmt.Fprintf(w, "\n   Held for operations: %s (message %s).\n   Release it with:  cpis --data %s returns release %s\n   or discard it:    cpis --data %s returns discard %s\n",
				m.File, m.MessageID, g.data, m.MessageID, g.data, m.MessageID)
		}
	}
	var n int
	if err := db.View(func(tx *store.Tx) error { n = tx.CountPlans(); return nil }); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n   The store now holds %d plans:  cpis --data %s plans export\n", n, g.data)
	fmt.Fprintf(w, "\n5. Responses to open (each LA collects them from its outbox):\n")
	for _, r := range results {
		if r.Response != "" {
			fmt.Fprintf(w, "   %s\n", r.Response)
		}
	}
	return nil
}

func describe(r ingest.Result) string {
	switch {
	case r.Detail == "F009":
		return fmt.Sprintf("held: would withdraw %d plans", r.Withdrawn)
	case r.Detail == "F007":
		return "repeat: nothing changed"
	case r.Code == "CPF02" || r.Code == "CPF03":
		return fmt.Sprintf("applied %d of %d rows, %d rejected, %d warnings, %d withdrawn", r.Applied, r.Read, r.Rejected, r.Warnings, r.Withdrawn)
	}
	return "nothing applied"
}

// demoConsole says how to see the same hub in a browser: an account for an
// LA officer and one for operations, then the daemon.
func demoConsole(w io.Writer, data string) {
	fmt.Fprintf(w, "\n8. The same hub in a browser (the web console, under cpis serve):\n")
	fmt.Fprintf(w, "   cpis --data %s users add --la 841 officer@la841.example.org   (prints a set-up link)\n", data)
	fmt.Fprintf(w, "   cpis --data %s users add --ops duty@nhs.example\n", data)
	fmt.Fprintf(w, "   cpis --data %s serve --http 127.0.0.1:8443 --no-sftp\n", data)
	fmt.Fprintf(w, "   Open each link, choose a password and enrol an authenticator app; LA officers check and send\n")
	fmt.Fprintf(w, "   returns at /la/, operations release held returns at /ops/.\n")
}
