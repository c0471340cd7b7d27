package sftpd_test

import (
	"errors"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pkg/sftp"

	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
)

// An upload whose inbox folder cannot be synced after the rename is not
// acknowledged: the client's Close fails, the audit has a failed upload
// (and no OK one) and operators have the cause in the log.
func TestUploadFolderSyncFails(t *testing.T) {
	syncErr := errors.New("staged folder sync failure")
	sftpd.SetSyncFolder(t, func(*os.Root, string) error { return syncErr })
	var log sshtest.SyncBuffer
	e := newEnv(t, func(c *sftpd.Config) { c.Log = slog.New(slog.NewTextHandler(&log, nil)) })
	before := e.tree()
	_, c := e.dial(la841)
	f, err := c.Create("/inbox/" + ret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	var se *sftp.StatusError
	if err := f.Close(); !errors.As(err, &se) || se.FxCode() != sftp.ErrSSHFxFailure {
		t.Errorf("close of an upload whose folder sync failed: got %v, want an SFTP failure", err)
	}
	// The file stays in the inbox, and that is right: the LA's software
	// sends it again, the resend is refused while this one waits, so the
	// return is taken once and never lost unseen.
	if _, err := c.Create("/inbox/" + ret); !errors.Is(err, os.ErrPermission) {
		t.Errorf("the resend: got %v, want permission denied", err)
	}
	e.stop()
	want := maps.Clone(before)
	want[la841+"/inbox/"+ret] = body
	if diff := cmp.Diff(want, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-want +got):\n%s", diff)
	}
	wantAudit := []sftpd.Event{
		login(la841),
		{Kind: sftpd.KindUpload, MailboxID: la841, Path: "/inbox/" + ret, Outcome: sftpd.OutcomeFailed, Reason: "server error"},
		{Kind: sftpd.KindRefusal, Op: "write", MailboxID: la841, Path: "/inbox/" + ret, Outcome: sftpd.OutcomeRefused,
			Reason: "permission denied: a file of that name is already in the inbox"},
		logout(0),
	}
	if diff := cmp.Diff(wantAudit, e.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if !strings.Contains(log.String(), syncErr.Error()) {
		t.Errorf("the log does not have the sync failure:\n%s", log.String())
	}
}
