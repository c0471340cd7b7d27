package remote_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/remote"
	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
	"cpis/store"
)

// moved lists the files a run moved, as "LA name" (+ " already").
func moved(res remote.Result) []string {
	out := []string{}
	for _, f := range res.Files {
		s := f.LA + " " + f.Name
		if f.Already {
			s += " already"
		}
		out = append(out, s)
	}
	return out
}

// clean fails t when a run had problems or failed LAs.
func clean(t *testing.T, what string, res remote.Result) {
	t.Helper()
	for _, p := range res.Problems {
		t.Errorf("%s: problem %s %s: %s", what, p.LA, p.Name, p.Reason)
	}
	for _, e := range res.Failed {
		t.Errorf("%s: %v", what, e)
	}
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sendRemote puts a return and its control file into a remote folder, as
// the LA would, last modified an hour ago, and returns that time.
func sendRemote(t *testing.T, dir, name string, data []byte) time.Time {
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	sendRemoteAt(t, dir, name, data, at)
	return at
}

func sendRemoteAt(t *testing.T, dir, name string, data []byte, at time.Time) {
	writeFile(t, dir, name, data, at)
	writeFile(t, dir, mesh.ControlName(name), incomingControl(mailbox, name), at)
}

// A remote return is pulled into the local inbox once, applied once, and
// a remote copy the hub recorded (a delete that never happened) is only
// deleted.
func TestPullExactlyOnce(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		h := newHub(t)
		acct := srv.account(t, "841", h.keys)
		h.addRemote("841", srv.addr, acct)
		h.trust(srv.addr, srv.hostKey)
		ret := sampleReturn(t)
		at := sendRemote(t, acct.pullDir, retName, ret)
		// Work in progress stays where it is.
		writeFile(t, acct.pullDir, "CPIS_841_DELTA_20261121.csv.part", []byte("half"), at)

		res := h.pull(h.cfg())
		clean(t, "pull", res)
		diff(t, "pulled", []string{"841 " + retName, "841 " + retCtl}, moved(res))
		if res.LAs != 1 || res.Files[0].SHA256 != sum(ret) || res.Files[0].Size != int64(len(ret)) || res.Files[0].MailboxID != mailbox {
			t.Errorf("result %+v", res)
		}
		diff(t, "local inbox", []string{retName, retCtl}, names(t, h.inbox(mailbox)))
		if got := readFile(t, filepath.Join(h.inbox(mailbox), retName)); !bytes.Equal(got, ret) {
			t.Error("the local copy differs from the remote return")
		}
		if fi, err := os.Stat(filepath.Join(h.inbox(mailbox), retName)); err != nil || !fi.ModTime().Equal(at) {
			t.Errorf("local copy modified at %v, want the remote time %v (%v)", fi.ModTime(), at, err)
		}
		diff(t, "remote inbox", []string{"CPIS_841_DELTA_20261121.csv.part"}, names(t, acct.pullDir))

		diff(t, "second pull", []string{}, moved(h.pull(h.cfg())))
		diff(t, "ingest", []string{retName + " CPF02 applied=4"}, h.ingest())

		// The same remote file again (same path, size, time and content):
		// a pull whose remote delete never happened. It is deleted, not
		// brought again.
		sendRemoteAt(t, acct.pullDir, retName, ret, at)
		res = h.pull(h.cfg())
		clean(t, "pull after a lost delete", res)
		diff(t, "pull after a lost delete", []string{"841 " + retName + " already", "841 " + retCtl + " already"}, moved(res))
		diff(t, "remote inbox", []string{"CPIS_841_DELTA_20261121.csv.part"}, names(t, acct.pullDir))
		diff(t, "local inbox", []string{}, names(t, h.inbox(mailbox)))
		diff(t, "ingest again", []string{}, h.ingest())
	})
}

// A connection dropped in the middle of a download leaves nothing in the
// local inbox; the next pull brings the return whole, and it is applied
// once.
func TestPullDroppedConnection(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		h := newHub(t)
		acct := srv.account(t, "841", h.keys)
		p := startProxy(t, srv.addr)
		h.addRemote("841", p.addr, acct)
		h.trust(p.addr, srv.hostKey)
		const name = "CPIS_841_FULL_20261121.csv.gz"
		data := paddedGzip(t, sampleReturn(t))
		if len(data) < 1<<20 {
			t.Fatalf("the padded return has %d bytes", len(data))
		}
		sendRemote(t, acct.pullDir, name, data)

		p.cut.Store(300 << 10)
		res := h.pull(h.cfg())
		if len(res.Failed) != 1 || res.Failed[0].LA != "841" || len(res.Files) != 0 {
			t.Fatalf("cut-off pull: %+v", res)
		}
		t.Logf("cut off: %v", res.Failed[0])
		diff(t, "local inbox after the drop", []string{}, names(t, h.inbox(mailbox)))
		diff(t, "remote inbox after the drop", []string{name, retCtl}, names(t, acct.pullDir))

		p.cut.Store(0)
		res = h.pull(h.cfg())
		clean(t, "pull", res)
		diff(t, "pulled", []string{"841 " + name, "841 " + retCtl}, moved(res))
		if got := readFile(t, filepath.Join(h.inbox(mailbox), name)); !bytes.Equal(got, data) {
			t.Error("the local copy differs from the remote return")
		}
		diff(t, "remote inbox", []string{}, names(t, acct.pullDir))
		diff(t, "ingest", []string{name + " CPF02 applied=4"}, h.ingest())
		diff(t, "pull again", []string{}, moved(h.pull(h.cfg())))
		diff(t, "ingest again", []string{}, h.ingest())
	})
}

// A crash at any step of a pull (with or without an ingest run before the
// next pull) ends with the return taken exactly once and the remote inbox
// drained.
func TestPullCrash(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		for _, step := range []string{"recorded", "renamed", "delivered"} {
			for _, ingestBetween := range []bool{false, true} {
				h := newHub(t)
				acct := srv.account(t, "841", h.keys)
				h.addRemote("841", srv.addr, acct)
				h.trust(srv.addr, srv.hostKey)
				sendRemote(t, acct.pullDir, retName, sampleReturn(t))

				undo := remote.SetTestHook(func(s, name string) error {
					if s == step && name == retName {
						return errors.New("crash")
					}
					return nil
				})
				res := h.pull(h.cfg())
				undo()
				if len(res.Failed) != 1 {
					t.Fatalf("%s: the crashed pull did not fail: %+v", step, res)
				}
				var taken []string
				if ingestBetween {
					taken = append(taken, h.ingest()...)
				}
				clean(t, step+": pull after the crash", h.pull(h.cfg()))
				taken = append(taken, h.ingest()...)
				diff(t, step+": messages taken", []string{retName + " CPF02 applied=4"}, taken)
				diff(t, step+": remote inbox", []string{}, names(t, acct.pullDir))
				// After "renamed", an ingest between takes the data file
				// alone (as it would had the LA crashed between its two
				// files); the control file pulled next keeps its remote
				// time, an hour ago, so that ingest archives it as stale.
				diff(t, step+": local inbox", []string{}, names(t, h.inbox(mailbox)))
			}
		}
	})
}

// An unknown or changed host key stops that LA with an error naming the
// host and the key seen; the other LA is pulled.
func TestHostKeys(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		for _, changed := range []bool{false, true} {
			h := newHub(t)
			good := srv.account(t, "841", h.keys)
			h.addRemote("841", srv.addr, good)
			h.trust(srv.addr, srv.hostKey)
			sendRemote(t, good.pullDir, retName, sampleReturn(t))

			// LA 202 reaches the same server by another address, whose
			// key known_hosts does not have (or has another key for).
			p := startProxy(t, srv.addr)
			bad := srv.account(t, "202", h.keys)
			h.addRemote("202", p.addr, bad)
			want := remote.ErrUnknownHost
			if changed {
				_, other := sshtest.WriteKey(t, t.TempDir(), "other")
				h.trust(p.addr, other)
				want = remote.ErrHostKeyChanged
			}
			sendRemote(t, bad.pullDir, "CPIS_202_FULL_20261121.csv", []byte("x"))

			res := h.pull(h.cfg())
			diff(t, "pulled", []string{"841 " + retName, "841 " + retCtl}, moved(res))
			if len(res.Failed) != 1 || res.Failed[0].LA != "202" || !errors.Is(res.Failed[0], want) {
				t.Fatalf("failed: %v, want LA 202 with %v", res.Failed, want)
			}
			_, port, _ := net.SplitHostPort(p.addr)
			msg := res.Failed[0].Error()
			for _, s := range []string{p.addr, ssh.FingerprintSHA256(srv.hostKey),
				"ssh-keyscan -p " + port + " 127.0.0.1 >> " + filepath.Join(h.dir, "known_hosts")} {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not say %q", msg, s)
				}
			}
			diff(t, "202's remote inbox", []string{"CPIS_202_FULL_20261121.csv", "CPIS_202_FULL_20261121.ctl"}, names(t, bad.pullDir))
			diff(t, "202's local inbox", []string{}, names(t, h.inbox(mailbox2)))
		}
	})
}

// deliver puts a response into the local outbox as the ingest does.
func deliver(t *testing.T, h *hub, name, body string) {
	t.Helper()
	ctl := mesh.OutgoingControl(mailbox, mesh.WorkflowUploadAck, msgID, name, "Response", runAt)
	if err := local.Open(h.dir, mailbox).Deliver(name, func(w io.Writer) error {
		_, err := io.WriteString(w, body)
		return err
	}, ctl); err != nil {
		t.Fatal(err)
	}
}

func collections(t *testing.T, h *hub) []string {
	t.Helper()
	out := []string{}
	if err := h.db.View(func(tx *store.Tx) error {
		return tx.Collections("841", func(c store.Collection) error {
			out = append(out, c.Name+" by "+c.By+" at "+c.At.Format(time.RFC3339))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Push delivers each outbox message, data file then control file, and
// archives both as collected.
func TestPush(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		h := newHub(t)
		acct := srv.account(t, "841", h.keys)
		h.addRemote("841", srv.addr, acct)
		h.trust(srv.addr, srv.hostKey)
		const resp = "CPIS_841_RESPONSE_20261122_" + msgID + ".csv"
		const respCtl = "CPIS_841_RESPONSE_20261122_" + msgID + ".ctl"
		deliver(t, h, resp, "message_id\r\n")
		// A data file whose control file is not written yet stays.
		writeFile(t, h.outbox(mailbox), "CPIS_841_ACCESS_20261121.csv", []byte("half"), time.Time{})

		res := h.push(h.cfg())
		clean(t, "push", res)
		diff(t, "pushed", []string{"841 " + resp, "841 " + respCtl}, moved(res))
		diff(t, "remote outbox", []string{resp, respCtl}, names(t, acct.pushDir))
		if got := string(readFile(t, filepath.Join(acct.pushDir, resp))); got != "message_id\r\n" {
			t.Errorf("remote copy %q", got)
		}
		if _, err := mesh.ParseControl(bytes.NewReader(readFile(t, filepath.Join(acct.pushDir, respCtl)))); err != nil {
			t.Errorf("remote control file: %v", err)
		}
		diff(t, "local outbox", []string{"CPIS_841_ACCESS_20261121.csv"}, names(t, h.outbox(mailbox)))
		diff(t, "archive out", []string{resp, respCtl}, names(t, local.Open(h.dir, mailbox).ArchiveOutDir()))
		diff(t, "collections", []string{resp + " by push at 2026-11-22T02:30:00Z"}, collections(t, h))
		if srv.audit != nil {
			var steps []string
			for _, e := range srv.audit() {
				if e.Kind == sftpd.KindUpload || e.Kind == sftpd.KindRename {
					steps = append(steps, e.Kind+" "+e.Path+" "+e.Target)
				}
			}
			diff(t, "uploads in order", []string{
				"upload /inbox/" + resp + ".part ", "rename /inbox/" + resp + ".part /inbox/" + resp,
				"upload /inbox/" + respCtl + ".part ", "rename /inbox/" + respCtl + ".part /inbox/" + respCtl,
			}, steps)
		}

		res = h.push(h.cfg())
		clean(t, "second push", res)
		diff(t, "second push", []string{}, moved(res))
		diff(t, "collections", []string{resp + " by push at 2026-11-22T02:30:00Z"}, collections(t, h))
	})
}

// A push cut off at any step is finished by the next one: delivered once,
// archived once, collected once.
func TestPushCrash(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		for i, step := range []string{"uploaded", "pushed", "recorded"} {
			h := newHub(t)
			acct := srv.account(t, "841", h.keys)
			h.addRemote("841", srv.addr, acct)
			h.trust(srv.addr, srv.hostKey)
			resp := "CPIS_841_RESPONSE_20261122_" + msgID + "_" + string(rune('a'+i)) + ".csv"
			respCtl := mesh.ControlName(resp)
			deliver(t, h, resp, strings.Repeat("row\r\n", 1000))

			undo := remote.SetTestHook(func(s, name string) error {
				if s == step && name == resp {
					return errors.New("crash")
				}
				return nil
			})
			res := h.push(h.cfg())
			undo()
			if len(res.Failed) != 1 {
				t.Fatalf("%s: the crashed push did not fail: %+v", step, res)
			}
			res = h.push(h.cfg())
			clean(t, step+": push after the crash", res)
			// The hub's server keeps one inbox per LA for every case.
			var remoteNames []string
			for _, n := range names(t, acct.pushDir) {
				if strings.HasPrefix(n, strings.TrimSuffix(resp, ".csv")) {
					remoteNames = append(remoteNames, n)
				}
			}
			diff(t, step+": remote outbox", []string{resp, respCtl}, remoteNames)
			if got := readFile(t, filepath.Join(acct.pushDir, resp)); len(got) != 5000 {
				t.Errorf("%s: remote copy has %d bytes", step, len(got))
			}
			diff(t, step+": local outbox", []string{}, names(t, h.outbox(mailbox)))
			diff(t, step+": archive out", []string{resp, respCtl}, names(t, local.Open(h.dir, mailbox).ArchiveOutDir()))
			diff(t, step+": collections", []string{resp + " by push at 2026-11-22T02:30:00Z"}, collections(t, h))
			diff(t, step+": push again", []string{}, moved(h.push(h.cfg())))
		}
	})
}

// A remote file of the same name but another size is never replaced: the
// message stays in the local outbox and is reported.
func TestPushConflict(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		h := newHub(t)
		acct := srv.account(t, "841", h.keys)
		h.addRemote("841", srv.addr, acct)
		h.trust(srv.addr, srv.hostKey)
		const resp = "CPIS_841_RESPONSE_20261122_" + msgID + ".csv"
		deliver(t, h, resp, "ours")
		writeFile(t, acct.pushDir, resp, []byte("theirs, longer"), time.Time{})
		res := h.push(h.cfg())
		if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Reason, "different") || len(res.Failed) != 0 {
			t.Fatalf("push: %+v", res)
		}
		diff(t, "local outbox", []string{resp, mesh.ControlName(resp)}, names(t, h.outbox(mailbox)))
		diff(t, "collections", []string{}, collections(t, h))
	})
}

// Size limit, the settle rule, lone control files and local names already
// taken.
func TestPullRules(t *testing.T) {
	srv := startSSHD(t)
	h := newHub(t)
	acct := srv.account(t, "841", h.keys)
	h.addRemote("841", srv.addr, acct)
	h.trust(srv.addr, srv.hostKey)
	realNow := time.Now().Truncate(time.Second)
	put := func(name, content string, age time.Duration) {
		writeFile(t, acct.pullDir, name, []byte(content), realNow.Add(-age))
	}
	put("big.csv", strings.Repeat("x", 200), time.Hour)
	put("big.ctl", "<DTSControl/>", time.Hour)
	put("settled.csv", "s", 11*time.Second)
	put("fresh.csv", "f", 5*time.Second)
	put("lone.ctl", "<DTSControl/>", time.Minute)
	put("freshlone.ctl", "<DTSControl/>", time.Second)
	put("same.csv", "same", time.Hour)
	put("other.csv", "remote", time.Hour)
	put("other.ctl", "<DTSControl/>", time.Hour)
	put(".hidden.csv", "h", time.Hour)
	if err := os.Mkdir(filepath.Join(acct.pullDir, "folder.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(acct.pullDir, "settled.csv"), filepath.Join(acct.pullDir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h.inbox(mailbox), "same.csv", []byte("same"), time.Time{})
	writeFile(t, h.inbox(mailbox), "other.csv", []byte("local"), time.Time{})

	cfg := h.cfg()
	cfg.SizeLimit = 100
	cfg.RealNow = func() time.Time { return realNow }
	res := h.pull(cfg)
	diff(t, "pulled", []string{"841 same.csv already", "841 settled.csv", "841 lone.ctl"}, moved(res))
	var problems []string
	for _, p := range res.Problems {
		problems = append(problems, p.Name+": "+p.Reason)
	}
	diff(t, "problems", []string{
		"big.csv: 200 bytes is over the size limit of 100 bytes: it stays in the remote inbox",
		"other.csv: the local inbox already holds a different other.csv: the remote file stays",
	}, problems)
	diff(t, "remote inbox", []string{".hidden.csv", "big.csv", "big.ctl", "folder.csv", "fresh.csv", "freshlone.ctl", "link.csv", "other.csv", "other.ctl"}, names(t, acct.pullDir))
	diff(t, "local inbox", []string{"lone.ctl", "other.csv", "same.csv", "settled.csv"}, names(t, h.inbox(mailbox)))
	if got := string(readFile(t, filepath.Join(h.inbox(mailbox), "other.csv"))); got != "local" {
		t.Errorf("the local other.csv was overwritten: %q", got)
	}
}

// A key file others can read, or a wrong key, fails that LA clearly.
func TestKeyProblems(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *server) {
		h := newHub(t)
		acct := srv.account(t, "841", h.keys)
		h.trust(srv.addr, srv.hostKey)
		if err := os.Chmod(acct.key, 0o644); err != nil {
			t.Fatal(err)
		}
		h.addRemote("841", srv.addr, acct)
		res := h.pull(h.cfg())
		if len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Error(), "readable by its owner only") {
			t.Errorf("open key: %v", res.Failed)
		}
		wrong, _ := sshtest.WriteKey(t, h.keys, "wrong")
		acct.key = wrong
		h.addRemote("841", srv.addr, acct)
		res = h.push(h.cfg())
		if len(res.Failed) != 0 {
			t.Errorf("push with nothing to push connected: %v", res.Failed)
		}
		res = h.pull(h.cfg())
		if len(res.Failed) != 1 || !errors.Is(res.Failed[0], remote.ErrAuth) {
			t.Errorf("wrong key: %v", res.Failed)
		} else {
			t.Logf("wrong key: %v", res.Failed[0])
		}
	})
}

func TestNoRemotes(t *testing.T) {
	h := newHub(t)
	res := h.pull(h.cfg())
	if res.LAs != 0 || len(res.Files)+len(res.Failed)+len(res.Problems) != 0 {
		t.Errorf("pull without remotes: %+v", res)
	}
	if _, err := remote.Push(t.Context(), remote.Config{}); err == nil {
		t.Error("push without a data dir: no error")
	}
}
