package sftpd_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
)

const (
	la841 = "LA841HC001"
	ret   = "CPIS_841_FULL_20261121.csv"
	body  = "nhs_number,plan_type,start_date,local_id\r\n9990276579,CPP,2026-03-02,C-1\r\n"
	resp  = "CPIS_841_RESPONSE_20261122_20261122023000123456_3F9A0C.csv"
	respC = "CPIS_841_RESPONSE_20261122_20261122023000123456_3F9A0C.ctl"
)

func login(user string) sftpd.Event {
	return sftpd.Event{Kind: sftpd.KindLogin, MailboxID: la841, User: user, Outcome: sftpd.OutcomeOK}
}

func logout(bytes int64) sftpd.Event {
	return sftpd.Event{Kind: sftpd.KindLogout, MailboxID: la841, Bytes: bytes, Outcome: sftpd.OutcomeOK}
}

func TestUploadReturn(t *testing.T) {
	sshtest.NeedSFTP(t)
	e := newEnv(t, nil)
	src := e.localFile(ret, body)
	before := e.tree()
	// The user name compares case-insensitively.
	out, err := e.sftp("la841hc001", e.keys[la841], "put "+src+" /inbox/\nls -1 /inbox\n")
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if got := listing(out); !cmp.Equal(got, []string{"/inbox/" + ret}) {
		t.Errorf("ls /inbox = %q", got)
	}
	e.stop()
	want := maps.Clone(before)
	want[la841+"/inbox/"+ret] = body
	if diff := cmp.Diff(want, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-want +got):\n%s", diff)
	}
	wantAudit := []sftpd.Event{
		login("la841hc001"),
		{Kind: sftpd.KindUpload, MailboxID: la841, Path: "/inbox/" + ret, Bytes: int64(len(body)), Outcome: sftpd.OutcomeOK},
		logout(int64(len(body))),
	}
	if diff := cmp.Diff(wantAudit, e.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// WinSCP uploads as name.filepart, then renames.
func TestFilepartUploadAndRename(t *testing.T) {
	sshtest.NeedSFTP(t)
	e := newEnv(t, nil)
	src := e.localFile(ret, body)
	before := e.tree()
	out, err := e.sftp(la841, e.keys[la841], strings.Join([]string{
		"put " + src + " /inbox/" + ret + ".filepart",
		"ls -1 /inbox",
		"rename /inbox/" + ret + ".filepart /inbox/" + ret,
		"ls -1 /inbox",
	}, "\n")+"\n")
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if got, want := listing(out), []string{"/inbox/" + ret + ".filepart", "/inbox/" + ret}; !cmp.Equal(got, want) {
		t.Errorf("listings = %q, want %q", got, want)
	}
	e.stop()
	want := maps.Clone(before)
	want[la841+"/inbox/"+ret] = body
	if diff := cmp.Diff(want, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-want +got):\n%s", diff)
	}
	wantAudit := []sftpd.Event{
		login(la841),
		{Kind: sftpd.KindUpload, MailboxID: la841, Path: "/inbox/" + ret + ".filepart", Bytes: int64(len(body)), Outcome: sftpd.OutcomeOK},
		{Kind: sftpd.KindRename, MailboxID: la841, Path: "/inbox/" + ret + ".filepart", Target: "/inbox/" + ret, Outcome: sftpd.OutcomeOK},
		logout(int64(len(body))),
	}
	if diff := cmp.Diff(wantAudit, e.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestListRoot(t *testing.T) {
	sshtest.NeedSFTP(t)
	e := newEnv(t, nil)
	e.put(la841+"/inbox/.x.csv.tmp", "hub work in progress")
	e.put(la841+"/outbox/"+resp, "r")
	e.put(la841+"/outbox/."+resp+".tmp", "hub work in progress")
	out, err := e.sftp(la841, e.keys[la841], "ls -1 /\nls -1 /inbox\nls -1 /outbox\ncd ..\nls -1\n")
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	want := []string{"/inbox", "/outbox", "/outbox/" + resp, "inbox", "outbox"}
	if diff := cmp.Diff(want, listing(out)); diff != "" {
		t.Errorf("listings (-want +got):\n%s", diff)
	}
}

func TestDownloadAndDeleteResponse(t *testing.T) {
	sshtest.NeedSFTP(t)
	e := newEnv(t, nil)
	e.put(la841+"/outbox/"+resp, "message_id,line\r\n")
	e.put(la841+"/outbox/"+respC, "<DTSControl/>")
	before := e.tree()
	out, err := e.sftp(la841, e.keys[la841], "get /outbox/"+resp+" "+e.local+"/\nrm /outbox/"+resp+"\n")
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if got := string(fileBytes(t, e.local+"/"+resp)); got != "message_id,line\r\n" {
		t.Errorf("downloaded %q", got)
	}
	e.stop()
	want := maps.Clone(before)
	delete(want, la841+"/outbox/"+resp)
	delete(want, la841+"/outbox/"+respC)
	if diff := cmp.Diff(want, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{la841 + "/" + resp}, e.collect); diff != "" {
		t.Errorf("OnCollected (-want +got):\n%s", diff)
	}
	wantAudit := []sftpd.Event{
		login(la841),
		{Kind: sftpd.KindDownload, MailboxID: la841, Path: "/outbox/" + resp, Bytes: 17, Outcome: sftpd.OutcomeOK},
		{Kind: sftpd.KindDelete, MailboxID: la841, Path: "/outbox/" + resp, Outcome: sftpd.OutcomeOK},
		logout(17),
	}
	if diff := cmp.Diff(wantAudit, e.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// Every refusal: the command fails, the mailbox tree is as it was, and the
// audit has the refusal.
func TestRefusals(t *testing.T) {
	sshtest.NeedSFTP(t)
	const existing = "CPIS_841_DELTA_20261120.csv"
	cases := []struct {
		name  string
		user  string // default la841
		key   string // mailbox whose key to use; "wrong" for an unregistered key
		limit int64
		batch string // %s is the local return's path
		want  sftpd.Event
	}{
		{name: "dot-dot", batch: "put %s ../" + ret,
			want: sftpd.Event{Op: "write", Path: "/" + ret}},
		{name: "dot-dot below inbox", batch: "put %s /inbox/../../../" + ret,
			want: sftpd.Event{Op: "write", Path: "/" + ret}},
		{name: "absolute path outside", batch: "put %s /tmp/" + ret,
			want: sftpd.Event{Op: "write", Path: "/tmp/" + ret}},
		{name: "read outside", batch: "get /etc/passwd",
			want: sftpd.Event{Op: "stat", Path: "/etc/passwd"}},
		{name: "other LA's inbox", batch: "put %s /../LA842HC001/inbox/" + ret,
			want: sftpd.Event{Op: "write", Path: "/LA842HC001/inbox/" + ret}},
		{name: "other LA's outbox", batch: "get /mailboxes/LA842HC001/outbox/" + resp,
			want: sftpd.Event{Op: "stat", Path: "/mailboxes/LA842HC001/outbox/" + resp}},
		{name: "other LA's folder listed", batch: "ls /LA842HC001/outbox",
			want: sftpd.Event{Op: "stat", Path: "/LA842HC001/outbox"}},
		{name: "symlink", batch: "symlink /outbox/" + resp + " /inbox/link.csv",
			want: sftpd.Event{Op: "symlink", Path: "/inbox/link.csv", Target: "/outbox/" + resp}},
		{name: "hard link", batch: "ln /inbox/" + existing + " /inbox/link.csv",
			want: sftpd.Event{Op: "link", Path: "/inbox/link.csv", Target: "/inbox/" + existing}},
		{name: "mkdir", batch: "mkdir /inbox/sub",
			want: sftpd.Event{Op: "mkdir", Path: "/inbox/sub"}},
		{name: "mkdir at root", batch: "mkdir /archive",
			want: sftpd.Event{Op: "mkdir", Path: "/archive"}},
		{name: "rmdir", batch: "rmdir /inbox",
			want: sftpd.Event{Op: "rmdir", Path: "/inbox"}},
		{name: "chmod", batch: "chmod 777 /inbox/" + existing,
			want: sftpd.Event{Op: "setstat", Path: "/inbox/" + existing}},
		{name: "chmod outbox", batch: "chmod 600 /outbox/" + resp,
			want: sftpd.Event{Op: "setstat", Path: "/outbox/" + resp}},
		{name: "rm in inbox", batch: "rm /inbox/" + existing,
			want: sftpd.Event{Op: "remove", Path: "/inbox/" + existing}},
		{name: "get from inbox", batch: "get /inbox/" + existing,
			want: sftpd.Event{Op: "read", Path: "/inbox/" + existing}},
		{name: "overwrite", batch: "put %s /inbox/" + existing,
			want: sftpd.Event{Op: "write", Path: "/inbox/" + existing}},
		{name: "upload to outbox", batch: "put %s /outbox/" + ret,
			want: sftpd.Event{Op: "write", Path: "/outbox/" + ret}},
		{name: "hidden name", batch: "put %s /inbox/.x.csv.tmp",
			want: sftpd.Event{Op: "write", Path: "/inbox/.x.csv.tmp"}},
		{name: "rename onto existing", batch: "rename /inbox/a.csv.filepart /inbox/" + existing,
			want: sftpd.Event{Op: "rename", Path: "/inbox/a.csv.filepart", Target: "/inbox/" + existing}},
		{name: "rename a finished return", batch: "rename /inbox/" + existing + " /inbox/b.csv",
			want: sftpd.Event{Op: "rename", Path: "/inbox/" + existing, Target: "/inbox/b.csv"}},
		{name: "rename in outbox", batch: "rename /outbox/" + resp + " /outbox/b.csv",
			want: sftpd.Event{Op: "rename", Path: "/outbox/" + resp, Target: "/outbox/b.csv"}},
		{name: "oversized", limit: 10, batch: "put %s /inbox/" + ret,
			want: sftpd.Event{Op: "write", Path: "/inbox/" + ret}},
		{name: "wrong key", key: "wrong", batch: "ls /",
			want: sftpd.Event{Op: "login", User: la841}},
		{name: "other LA's key", key: "LA842HC001", batch: "ls /",
			want: sftpd.Event{Op: "login", User: la841}},
		{name: "unknown user", user: "LA999HC001", batch: "ls /",
			want: sftpd.Event{Op: "login", User: "LA999HC001"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(cfg *sftpd.Config) { cfg.SizeLimit = c.limit })
			e.put(la841+"/inbox/"+existing, "already here")
			e.put(la841+"/inbox/a.csv.filepart", "unfinished")
			e.put(la841+"/outbox/"+resp, "r")
			e.put("LA842HC001/outbox/"+resp, "842's")
			src := e.localFile(ret, body)
			key := e.keys[la841]
			switch c.key {
			case "":
			case "wrong":
				key, _ = sshtest.WriteKey(t, t.TempDir(), "id_wrong")
			default:
				key = e.keys[c.key]
			}
			user := c.user
			if user == "" {
				user = la841
			}
			before := e.tree()
			batch := c.batch
			if strings.Contains(batch, "%s") {
				batch = strings.ReplaceAll(batch, "%s", src)
			}
			out, err := e.sftp(user, key, batch+"\n")
			if err == nil {
				t.Errorf("sftp succeeded:\n%s", out)
			}
			e.stop()
			if diff := cmp.Diff(before, e.tree()); diff != "" {
				t.Errorf("mailbox tree changed (-before +after):\n%s", diff)
			}
			var refusals []sftpd.Event
			for _, ev := range e.audit() {
				if ev.Kind == sftpd.KindRefusal {
					ev.Kind, ev.MailboxID, ev.Reason, ev.Outcome = "", "", "", ""
					refusals = append(refusals, ev)
				}
			}
			// Clients look (stat) before they act: a look outside the
			// mailbox is a refusal too.
			if !slices.Contains(refusals, c.want) {
				t.Errorf("refusals in the audit = %+v, want %+v among them\nclient said:\n%s", refusals, c.want, out)
			}
			if strings.Contains(out, e.data) {
				t.Errorf("the client was told a host path:\n%s", out)
			}
		})
	}
}
