package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

func TestCLIMailboxSendList(t *testing.T) {
	h := initCLIHub(t)
	const name = "CPIS_841_FULL_20261121.csv"
	content := crlf("nhs_number,plan_type,start_date,local_id", "9990276579,CPP,2026-03-02,C-1")
	id := h.send("841", name, content)

	inbox := filepath.Join(h.data, "mailboxes", "LA841HC001", "inbox")
	st, err := os.Stat(filepath.Join(inbox, name))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(inbox, name)); string(got) != content {
		t.Errorf("inbox copy is %q, want %q", got, content)
	}

	// The control file is what an LA's MESH client would write.
	f, err := os.Open(filepath.Join(inbox, "CPIS_841_FULL_20261121.ctl"))
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := mesh.ParseControl(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: "LA841HC001", To: "CPISHUB01",
		Subject: "FULL return 2026-11-21", LocalID: name, DTSID: id, WorkflowID: "CPIS_LA_UPLOAD"}
	if diff := cmp.Diff(want, ctl); diff != "" {
		t.Errorf("control file (-want +got):\n%s", diff)
	}
	if !mesh.ValidMessageID(ctl.DTSID) {
		t.Errorf("DTSId %q is not a message ID", ctl.DTSID)
	}
	// The message ID's timestamp is the --now time, to the microsecond.
	now, _ := time.Parse(time.RFC3339, cliNow)
	stamp, err := time.Parse("20060102150405", ctl.DTSID[:14])
	micros, _ := strconv.Atoi(ctl.DTSID[14:20])
	if err != nil || !stamp.Add(time.Duration(micros)*time.Microsecond).Equal(now) {
		t.Errorf("DTSId %q is not stamped %s", ctl.DTSID, cliNow)
	}

	// mailbox list shows it in the inbox, with its control file.
	listed := listedFile{LA: "841", Mailbox: "LA841HC001", Folder: "inbox", File: name, Size: int64(len(content)), Modified: st.ModTime().UTC(), HasControl: true}
	for _, args := range [][]string{{"mailbox", "list", "--la", "841", "--json"}, {"mailbox", "list", "--json"}} {
		var got []listedFile
		for line := range strings.Lines(h.ok(args...)) {
			var lf listedFile
			if err := json.Unmarshal([]byte(line), &lf); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			got = append(got, lf)
		}
		if diff := cmp.Diff([]listedFile{listed}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", strings.Join(args, " "), diff)
		}
	}
	// The table, compared field by field (tabwriter pads).
	wantRows := [][]string{
		{"LA", "MAILBOX", "FOLDER", "FILE", "SIZE", "MODIFIED", "(UTC)"},
		append([]string{"841", "LA841HC001", "inbox", name, strconv.Itoa(len(content))}, strings.Fields(listed.Modified.Format("2006-01-02 15:04:05"))...),
	}
	var gotRows [][]string
	for line := range strings.Lines(h.ok("mailbox", "list", "--la", "841")) {
		gotRows = append(gotRows, strings.Fields(line))
	}
	if diff := cmp.Diff(wantRows, gotRows); diff != "" {
		t.Errorf("mailbox list --la 841 (-want +got):\n%s", diff)
	}
	if out := h.ok("mailbox", "list", "--la", "202"); out != "Nothing waits in any mailbox.\n" {
		t.Errorf("mailbox list --la 202 printed %q", out)
	}

	// The same name again is refused while the first waits.
	r := h.run("mailbox", "send", "--la", "841", h.file(name, content))
	if r.code != exitFailure || !strings.Contains(r.stderr, "already in the inbox") {
		t.Errorf("second send: exit %d, stderr %q", r.code, r.stderr)
	}

	// After ingest the inbox is empty and the response waits in the outbox.
	h.ingestJSON()
	out := h.ok("mailbox", "list", "--la", "841", "--json")
	var resp listedFile
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if resp.Folder != "outbox" || !strings.HasPrefix(resp.File, "CPIS_841_RESPONSE_20261122_") || !resp.HasControl {
		t.Errorf("after ingest mailbox list shows %+v, want the response in the outbox", resp)
	}
	if _, err := os.Stat(filepath.Join(inbox, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after ingest the return is still in the inbox: %v", err)
	}
}
