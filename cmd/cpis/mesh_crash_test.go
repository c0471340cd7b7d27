//go:build linux

package main

// Crash tests of the MESH API (`cpis serve --mesh`) and of the hub as a
// MESH client (the push job through `cpis mesh connect`), with the real
// binary and SIGKILL (mesh/meshapi/mesh-api.md, "Limits and durability": 202 only once the
// message or chunk is on disk, a message appears in an inbox only whole,
// a crash at any moment loses no accepted message and delivers none in
// part).
//
//   - TestMeshCrashChunkedUpload: an LA's client sends returns in gzipped
//     chunks; the daemon is killed after a chunk's 202, while a chunk's
//     body streams, or once a chunk is sent and before (or as) it is
//     answered; the client resends the chunk it got no answer for, with a
//     fresh token, as NHS England's client would, and goes on.
//   - TestMeshCrashAcknowledge: the LA downloads a response and
//     acknowledges it; the daemon is killed during or after the PUT.
//   - TestMeshCrashPush: hub B pushes its outbox through hub A's MESH API
//     (A plays NHS MESH; B's mailbox there is one of A's LA mailboxes); B
//     is killed as its push makes progress (files arriving at A, leaving
//     B's outbox).
//
// Each loop fails when too few kills landed mid-operation. Reproduce a run
// with CPIS_KILL_SEED=<seed logged>.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cpis/mesh"
	"cpis/mesh/meshapi/meshload"
	"cpis/store"
)

// The LA whose MESH client the tests play: its code, mailbox and MESH
// password.
const (
	meshCrashLA      = "201"
	meshCrashMailbox = "LA201HC001"
	meshCrashPW      = "pw-of-201"
)

// meshCrashHub is a data dir whose LA 201 logs in to the MESH API.
type meshCrashHub struct {
	t              *testing.T
	bin, dir, data string
	now            string // the daemon's clock (--now)
	key            string
	people         []string
}

// newMeshCrashHub makes a hub in dir/name with the authorities given
// (authorities.csv rows) and a MESH password for LA201HC001 when it is one
// of its mailboxes. Its daemon's clock is serveNow.
func newMeshCrashHub(t *testing.T, bin, dir, name, authorities string, password bool) *meshCrashHub {
	t.Helper()
	h := &meshCrashHub{t: t, bin: bin, dir: filepath.Join(dir, name), data: filepath.Join(dir, name, "data"), now: serveNow, people: testNHS(80)}
	if err := os.MkdirAll(h.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"authorities.csv": "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone\n" + authorities,
		"pds.csv":         pdsCSV(h.people),
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(h.dir, n), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	binOK(t, bin, h.data, serveNow, "init", "--authorities", filepath.Join(h.dir, "authorities.csv"), "--pds", filepath.Join(h.dir, "pds.csv"))
	if password {
		cmd := binCommand(bin, h.data, serveNow, nil, "mesh", "password", meshCrashMailbox, "--stdin")
		cmd.Stdin = strings.NewReader(meshCrashPW + "\n")
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Fatalf("mesh password --stdin: %v %q", err, out)
		}
	}
	h.key = strings.TrimSpace(binOK(t, bin, h.data, serveNow, "mesh", "key"))
	return h
}

// returnFile is a return of LA 201 extracted on day (1..28 of November
// 2026), with rows plans; its name and content.
func (h *meshCrashHub) returnFile(day, rows int) (string, []byte) {
	var b strings.Builder
	b.WriteString("nhs_number,plan_type,start_date,local_id\n")
	for i := range rows {
		fmt.Fprintf(&b, "%s,%s,2026-%02d-%02d,R%d-%d\n", h.people[i%len(h.people)], []string{"CPP", "LAC"}[i%2], 1+i%10, 1+i%27, day, i)
	}
	return fmt.Sprintf("CPIS_%s_FULL_202611%02d.csv", meshCrashLA, day), []byte(b.String())
}

var meshListening = regexp.MustCompile(`MESH API listening" addr=(\S+)`)

// start starts the daemon (no SFTP, no HTTP lookups) with the MESH API
// on a free loopback port, and returns it with the API's base URL once it
// listens (its control socket made before).
func (h *meshCrashHub) start(args ...string) (*daemon, string) {
	h.t.Helper()
	d := &daemon{bin: h.bin, data: h.data}
	d.proc = startProc(h.t, binCommand(h.bin, h.data, h.now, nil, append([]string{"serve", "--no-http", "--no-sftp", "--mesh", "127.0.0.1:0"}, args...)...))
	waitLog(h.t, d, "MESH API listening")
	m := meshListening.FindStringSubmatch(d.log.String())
	if m == nil {
		h.t.Fatalf("no MESH address in the log:\n%s", d.log)
	}
	return d, "http://" + m[1]
}

// client is LA 201's MESH client of the API at base.
func (h *meshCrashHub) client(base string) *cliMeshClient {
	now, _ := time.Parse(time.RFC3339, h.now)
	return &cliMeshClient{t: h.t, base: base, mailbox: meshCrashMailbox, password: meshCrashPW, key: h.key, now: now,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}}}
}

// inboxDir is LA 201's inbox folder.
func (h *meshCrashHub) inboxDir() string {
	return filepath.Join(h.data, "mailboxes", meshCrashMailbox, "inbox")
}

// meshCall is c.do for a daemon that may die under it: a request with a
// fresh token whose failure to get an answer is returned, not fatal.
// body (nil: none) is sent with Content-Length size.
func meshCall(c *cliMeshClient, method, path string, h map[string]string, body io.Reader, size int64) (int, http.Header, []byte, error) {
	c.nonce++
	req, err := http.NewRequest(method, c.base+"/messageexchange/"+c.mailbox+path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Accept", "application/vnd.mesh.v2+json")
	req.Header.Set("Authorization", meshload.Sign(c.key, c.mailbox, fmt.Sprintf("n-%d-%d", time.Now().UnixNano(), c.nonce), "0", c.password, c.now))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// pausingBody is a request body that stops after its first at bytes
// (closing paused) until resume is closed; sent is closed once the
// transport has read it all.
type pausingBody struct {
	b              []byte
	off, at        int
	paused, resume chan struct{}
	sent           chan struct{}
	once           sync.Once
}

func newPausingBody(b []byte, at int) *pausingBody {
	return &pausingBody{b: b, at: at, paused: make(chan struct{}), resume: make(chan struct{}), sent: make(chan struct{})}
}

func (p *pausingBody) Read(buf []byte) (int, error) {
	if p.off == p.at && p.at < len(p.b) {
		select {
		case <-p.paused:
		default:
			close(p.paused)
		}
		<-p.resume
	}
	end := len(p.b)
	if p.off < p.at {
		end = p.at
	}
	n := copy(buf, p.b[p.off:end])
	p.off += n
	if p.off == len(p.b) {
		p.once.Do(func() { close(p.sent) })
		return n, io.EOF
	}
	return n, nil
}

// meshInboxCheck fails the test when LA 201's inbox folder shows a data
// file that is not whole: every data file (temporary names aside) must
// have its control file and be the whole content sent under its name.
func meshInboxCheck(t *testing.T, dir string, sent map[string][]byte, when string) {
	t.Helper()
	for _, n := range listDir(t, dir) {
		if mesh.IsTempName(n) || mesh.IsControlName(n) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if want, ok := sent[n]; !ok || !bytes.Equal(b, want) {
			t.Errorf("%s: the inbox shows %s with %d bytes, want the %d bytes sent (sent: %v)", when, n, len(b), len(want), ok)
		}
		if _, err := os.Stat(filepath.Join(dir, mesh.ControlName(n))); err != nil {
			t.Errorf("%s: the inbox shows %s without its control file: %v", when, n, err)
		}
	}
}

// meshInboxControl returns the control file of the inbox's data file name.
func meshInboxControl(t *testing.T, dir, name string) mesh.Control {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, mesh.ControlName(name)))
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := mesh.ParseControl(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ctl
}

// meshSplit cuts b into n parts of the same size (the last shorter).
func meshSplit(b []byte, n int) [][]byte {
	var out [][]byte
	size := (len(b) + n - 1) / n
	for off := 0; off < len(b); off += size {
		out = append(out, b[off:min(off+size, len(b))])
	}
	return out
}

// Kills of `serve --mesh` during chunked uploads: the whole return is in
// the LA's inbox once, never a part of it; ingest takes each return once.
func TestMeshCrashChunkedUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, kills and restarts the daemon")
	}
	started := time.Now()
	seed := killSeed(t, "CPIS_KILL_SEED")
	t.Logf("seed %d (rerun with CPIS_KILL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	const iterations, chunks = 8, 4

	h := newMeshCrashHub(t, cpisBinary(t), t.TempDir(), "hub",
		"201,E09000001,City of London,London,,020 7946 0001,\n202,E09000007,Camden,London,,020 7946 0002,\n", true)
	d, base := h.start("--no-scheduler")
	c := h.client(base)
	sent := map[string][]byte{}
	ids := map[string]string{} // message ID -> name
	mid := 0
	var answerTook time.Duration // the last chunk POST's round trip
	// The kills: two after a chunk's 202, three while a chunk's body
	// streams (the chunk unanswered), three once its body is sent (before
	// or as it is answered), in a random order, each at a random chunk.
	modes := []string{"after its 202", "after its 202", "while its body streams", "while its body streams",
		"while its body streams", "once its body is sent", "once its body is sent", "once its body is sent"}
	rng.Shuffle(len(modes), func(i, j int) { modes[i], modes[j] = modes[j], modes[i] })
	for it := range iterations {
		name, content := h.returnFile(it+1, 60)
		sent[name] = content
		parts := meshSplit(content, chunks)
		killAt := 1 + rng.IntN(chunks)
		mode := modes[it]
		killed := false
		restart := func() {
			t.Helper()
			d.kill()
			meshInboxCheck(t, h.inboxDir(), sent, fmt.Sprintf("iteration %d, killed at chunk %d %s", it, killAt, mode))
			d, base = h.start("--no-scheduler")
			c.base = base
		}
		id := ""
		for k := 1; k <= chunks; k++ {
			hdr := map[string]string{"Content-Type": "application/octet-stream", "Content-Encoding": "gzip", "Mex-Chunk-Range": fmt.Sprintf("%d:%d", k, chunks)}
			path := "/outbox/" + id + "/" + strconv.Itoa(k)
			if k == 1 {
				path = "/outbox"
				hdr["Mex-To"], hdr["Mex-WorkflowID"], hdr["Mex-FileName"], hdr["Mex-LocalID"] = mesh.HubMailbox, mesh.WorkflowUpload, name, fmt.Sprintf("local-%d", it)
			}
			body := meshload.Gzip(parts[k-1])
			var status int
			var answer []byte
			var err error
			if k == killAt && !killed && mode != "after its 202" {
				// Kill with this chunk in flight.
				killed = true
				at := len(body)
				if mode == "while its body streams" {
					at = 1 + rng.IntN(len(body)-1)
				}
				pb := newPausingBody(body, at)
				done := make(chan struct{})
				go func() {
					defer close(done)
					status, _, answer, err = meshCall(c, "POST", path, hdr, pb, int64(len(body)))
				}()
				if mode == "while its body streams" {
					select {
					case <-pb.paused:
					case <-done:
					}
				} else {
					select {
					case <-pb.sent:
						time.Sleep(time.Duration(rng.Int64N(int64(answerTook)/2 + 1)))
					case <-done:
					}
				}
				d.kill()
				close(pb.resume)
				<-done
				if err != nil {
					mid++
				}
				t.Logf("iteration %d: SIGKILL at chunk %d/%d %s: answer %d %v", it, k, chunks, mode, status, err)
				restart()
				if err != nil {
					// No answer: resend it, a fresh token; chunk 1 again is
					// a new message (its ID never reached the client).
					status, _, answer, err = meshCall(c, "POST", path, hdr, bytes.NewReader(body), int64(len(body)))
					if status == http.StatusLocked && k == chunks && k > 1 {
						// Complete: delivered before the kill or at the
						// restart (the tracking below says so).
						t.Logf("iteration %d: the resent last chunk answered 423, the message complete", it)
						status = http.StatusAccepted
					}
				}
			} else {
				t0 := time.Now()
				status, _, answer, err = meshCall(c, "POST", path, hdr, bytes.NewReader(body), int64(len(body)))
				answerTook = time.Since(t0)
			}
			if err != nil || status != http.StatusAccepted {
				t.Fatalf("iteration %d: chunk %d/%d: %d %s %v\n%s", it, k, chunks, status, answer, err, d.log)
			}
			if k == 1 {
				var v struct {
					ID string `json:"message_id"`
				}
				if err := json.Unmarshal(answer, &v); err != nil || !mesh.ValidMessageID(v.ID) {
					t.Fatalf("iteration %d: send answered %s", it, answer)
				}
				id = v.ID
			}
			if k == killAt && !killed {
				killed = true
				t.Logf("iteration %d: SIGKILL after the 202 of chunk %d/%d", it, k, chunks)
				restart()
			}
		}
		ids[id] = name
		// Exactly one copy, whole, under the message ID given.
		meshInboxCheck(t, h.inboxDir(), sent, fmt.Sprintf("iteration %d, done", it))
		ctl := meshInboxControl(t, h.inboxDir(), name)
		if ctl.DTSID != id {
			t.Errorf("iteration %d: %s has DTSId %s, want the MESH ID %s", it, name, ctl.DTSID, id)
		}
		var tr map[string]any
		c.getJSON("/outbox/tracking?messageID="+url.QueryEscape(id), &tr)
		if tr["status"] != "accepted" || tr["filename"] != name {
			t.Errorf("iteration %d: tracking %v", it, tr)
		}
	}
	if files := listDir(t, h.inboxDir()); countData(files) != iterations {
		t.Errorf("inbox holds %v, want the %d returns once each", files, iterations)
	}
	if mid < minMidRun(iterations) {
		t.Errorf("only %d of %d kills landed with a chunk unanswered, want at least %d", mid, iterations, minMidRun(iterations))
	}

	// Ingest takes each return once, under its MESH message ID.
	out, stderr, code := d.run(t, h.dir, "ingest", "--json")
	if code != 0 {
		t.Fatalf("ingest: %d %s", code, stderr)
	}
	for id, name := range ids {
		if n := strings.Count(out, `"message_id":"`+id+`"`); n != 1 {
			t.Errorf("ingest took %s (%s) %d times:\n%s", id, name, n, out)
		}
	}
	if n := strings.Count(out, `"message_id":`); n != iterations {
		t.Errorf("ingest took %d returns, want %d:\n%s", n, iterations, out)
	}
	if out, _, _ := d.run(t, h.dir, "ingest", "--json"); strings.Contains(out, `"message_id":`) {
		t.Errorf("a second ingest took more:\n%s", out)
	}
	d.kill()
	t.Logf("%d kills, %d with a chunk unanswered; %s in all", iterations, mid, time.Since(started).Round(time.Millisecond))
}

// countData counts the data files among names.
func countData(names []string) int {
	n := 0
	for _, f := range names {
		if !mesh.IsTempName(f) && !mesh.IsControlName(f) {
			n++
		}
	}
	return n
}

// meshAcked reports whether the store of the stopped hub at data records
// LA 201's acknowledgement of message id.
func meshAcked(t *testing.T, data, id string) bool {
	t.Helper()
	db, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok bool
	if err := db.View(func(tx *store.Tx) (err error) { _, ok, err = tx.MeshAck(meshCrashMailbox, id); return err }); err != nil {
		t.Fatal(err)
	}
	return ok
}

// meshListed returns LA 201's MESH inbox.
func meshListed(c *cliMeshClient) []string {
	var inbox struct {
		Messages []string `json:"messages"`
	}
	c.getJSON("/inbox", &inbox)
	return inbox.Messages
}

// Kills of `serve --mesh` during and after acknowledgements: a message is
// either still listed (and acknowledged again) or gone and recorded
// collected, never both, never neither; a repeated acknowledgement
// answers 200.
func TestMeshCrashAcknowledge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, kills and restarts the daemon")
	}
	started := time.Now()
	seed := killSeed(t, "CPIS_KILL_SEED")
	t.Logf("seed %d (rerun with CPIS_KILL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	const iterations = 8

	h := newMeshCrashHub(t, cpisBinary(t), t.TempDir(), "hub",
		"201,E09000001,City of London,London,,020 7946 0001,\n202,E09000007,Camden,London,,020 7946 0002,\n", true)
	// A response per return waits in LA 201's outbox, its MESH inbox.
	var names []string
	for day := 1; day <= iterations; day++ {
		name, content := h.returnFile(day, 3)
		if err := os.WriteFile(filepath.Join(h.dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Join(h.dir, name))
	}
	binOK(t, h.bin, h.data, serveNow, append([]string{"mailbox", "send", "--la", meshCrashLA}, names...)...)
	binOK(t, h.bin, h.data, serveNow, "ingest")

	d, base := h.start("--no-scheduler")
	c := h.client(base)
	waiting := meshListed(c)
	if len(waiting) != iterations {
		t.Fatalf("MESH inbox %v, want %d responses", waiting, iterations)
	}
	// The kills: two after the 200; two of a daemon frozen (SIGSTOP) before
	// the acknowledgement was sent, so that it is received and never
	// answered, whatever the machine's speed; two after a random part of
	// the time the last acknowledgement took to remove the data file (at
	// once if it is seen to go sooner); two as soon as the data file is
	// seen to go; in a random order. Acknowledgements take milliseconds,
	// so only the frozen kills are sure to land unanswered.
	modes := []string{"after", "after", "frozen", "frozen", "before the removal", "before the removal",
		"at the removal", "at the removal"}
	frozen := 2
	rng.Shuffle(len(modes), func(i, j int) { modes[i], modes[j] = modes[j], modes[i] })
	var toRemoval time.Duration // from a PUT to its data file's removal, as last seen
	mid := 0
	for it := range iterations {
		id := waiting[it]
		t0 := time.Now()
		if status, hdr, body := c.do("GET", "/inbox/"+id, nil, nil); status != http.StatusOK || hdr.Get("mex-messageid") != id {
			t.Fatalf("iteration %d: download %s: %d %v %s", it, id, status, hdr, body)
		}
		if toRemoval == 0 {
			toRemoval = 2 * time.Since(t0)
		}
		mode := modes[it]
		delay := time.Duration(rng.Int64N(int64(toRemoval) + 1))
		steps := newFileSteps(t, h.data)
		var status int
		var err error
		removed := false
		done := make(chan struct{})
		t0 = time.Now()
		if mode == "frozen" {
			if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
		}
		go func() {
			defer close(done)
			status, _, _, err = meshCall(c, "PUT", "/inbox/"+id+"/status/acknowledged", nil, nil, 0)
		}()
		if mode == "frozen" {
			time.Sleep(50 * time.Millisecond) // the request reaches the frozen daemon's socket
		}
	watch:
		for {
			select {
			case <-done:
				if mode != "after" {
					t.Logf("iteration %d: the acknowledgement was answered before the kill", it)
				}
				break watch
			default:
			}
			n := steps.steps(t)
			if n > 0 && mode == "after" && !removed {
				toRemoval, removed = time.Since(t0), true
			}
			if mode == "frozen" || mode == "at the removal" && n > 0 || mode == "before the removal" && (n > 0 || time.Since(t0) >= delay) {
				break
			}
			steps.wait(200 * time.Microsecond)
		}
		if mode == "after" && (err != nil || status != http.StatusOK) {
			t.Fatalf("iteration %d: acknowledge: %d %v", it, status, err)
		}
		d.kill()
		<-done
		if err != nil {
			mid++
		}
		acked := meshAcked(t, h.data, id)
		t.Logf("iteration %d: SIGKILL %s (delay %v of %v) of the acknowledgement of %s: answer %d %v; recorded %v", it,
			mode, delay, toRemoval, id, status, err, acked)

		d, base = h.start("--no-scheduler")
		c.base = base
		listed := false
		for _, m := range meshListed(c) {
			listed = listed || m == id
		}
		switch {
		case listed && acked:
			t.Errorf("iteration %d: %s is listed after its collection was recorded", it, id)
		case !listed && !acked:
			t.Errorf("iteration %d: %s left the inbox and its collection is not recorded", it, id)
		case listed && err == nil && status == http.StatusOK:
			t.Errorf("iteration %d: %s acknowledged 200 and listed after the restart", it, id)
		}
		if listed {
			if status, _, body := c.do("PUT", "/inbox/"+id+"/status/acknowledged", nil, nil); status != http.StatusOK {
				t.Errorf("iteration %d: acknowledge again after the restart: %d %s", it, status, body)
			}
		}
		if status, _, body := c.do("PUT", "/inbox/"+id+"/status/acknowledged", nil, nil); status != http.StatusOK {
			t.Errorf("iteration %d: repeated acknowledgement after the restart: %d %s", it, status, body)
		}
		for _, m := range meshListed(c) {
			if m == id {
				t.Errorf("iteration %d: %s still listed after its acknowledgement", it, id)
			}
		}
	}
	if left := meshListed(c); len(left) != 0 {
		t.Errorf("MESH inbox after every acknowledgement: %v", left)
	}
	d.kill()
	for _, id := range waiting {
		if !meshAcked(t, h.data, id) {
			t.Errorf("%s: no acknowledgement recorded", id)
		}
	}
	if files := countData(listDir(t, filepath.Join(h.data, "mailboxes", meshCrashMailbox, "outbox"))); files != 0 {
		t.Errorf("%d data files left in the outbox", files)
	}
	if mid < frozen {
		t.Errorf("only %d of %d kills landed with the acknowledgement unanswered, want at least the %d of a frozen daemon", mid, iterations, frozen)
	}
	t.Logf("%d kills, %d with the acknowledgement unanswered; %s in all", iterations, mid, time.Since(started).Round(time.Millisecond))
}

// meshPushMessage is a message put in hub B's outbox for its push.
type meshPushMessage struct {
	name, id string // the data file, its control file's DTSId
	content  []byte
}

// meshPushDone reports whether B's outbox is empty and A's inbox holds
// want data files.
func meshPushDone(t *testing.T, outbox, inbox string, want int) bool {
	return len(listDir(t, outbox)) == 0 && countData(listDir(t, inbox)) == want
}

// meshChunksSeen adds the chunk files now in the MESH upload area dir to
// seen and returns how many it has seen: chunks reaching A are steps of
// B's push, as files arriving and leaving are.
func meshChunksSeen(dir string, seen map[string]bool) int {
	ups, _ := os.ReadDir(dir)
	for _, u := range ups {
		files, _ := os.ReadDir(filepath.Join(dir, u.Name()))
		for _, f := range files {
			if _, err := strconv.Atoi(strings.TrimSuffix(f.Name(), ".gz")); err == nil {
				seen[u.Name()+"/"+f.Name()] = true
			}
		}
	}
	return len(seen)
}

// Kills of hub B during its push through hub A's MESH API: each message
// reaches A once and whole, and leaves B's outbox once, recorded sent and
// collected once.
func TestMeshCrashPush(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, kills and restarts daemons")
	}
	started := time.Now()
	seed := killSeed(t, "CPIS_KILL_SEED")
	t.Logf("seed %d (rerun with CPIS_KILL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	const iterations, perRun = 7, 2 // the first run is the reference, never killed
	bin := cpisBinary(t)
	tmp := t.TempDir()

	// Hub A plays NHS MESH: B's mailbox there is A's LA201HC001, which may
	// send returns to CPISHUB01; they land in A's LA 201 inbox folder.
	a := newMeshCrashHub(t, bin, tmp, "a", "201,E09000001,City of London,London,,020 7946 0001,\n", true)
	// B's client signs its tokens with the real clock, which A's must be
	// near (within 2 hours).
	a.now = time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	da, baseA := a.start("--no-scheduler")
	ca := a.client(baseA)
	// Hub B's LA 201 has the mailbox CPISHUB01 (A's hub): B's push sends
	// its outbox there, as LA201HC001 at A.
	b := newMeshCrashHub(t, bin, tmp, "b", "201,E09000001,City of London,London,CPISHUB01,020 7946 0001,\n", false)
	secret := func(name, v string) string {
		p := filepath.Join(b.dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	binOK(t, bin, b.data, serveNow, "mesh", "connect", "--url", baseA, "--mailbox", meshCrashMailbox,
		"--password-file", secret("mesh-password", meshCrashPW), "--shared-key-file", secret("mesh-key", a.key),
		"--chunk-size", "512", "--push", meshCrashLA)
	sched := filepath.Join(b.dir, "schedules")
	writeSchedules(t, sched, "@every 1h")
	plan, err := os.ReadFile(filepath.Join(sched, "test.schedule"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sched, "test.schedule"), []byte(strings.Replace(string(plan), "@every 1h push", "@every 1s push", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	outbox := filepath.Join(b.data, "mailboxes", mesh.HubMailbox, "outbox")
	archive := filepath.Join(b.data, "archive", mesh.HubMailbox, "out")

	var msgs []meshPushMessage
	sent := map[string][]byte{}
	var logs []*syncBuffer // every run of B
	var ref watchedRun     // the progress of the reference run
	total, mid := 0, 0
	for it := range iterations {
		for range perRun {
			name, content := b.returnFile(len(msgs)+1, 100)
			m := meshPushMessage{name: name, id: mesh.NewMessageID(time.Now()), content: content}
			ctl := mesh.OutgoingControl(mesh.HubMailbox, mesh.WorkflowUpload, m.id, name, "CP-IS return", time.Now())
			for _, f := range []struct {
				name string
				b    []byte
			}{{name, content}, {mesh.ControlName(name), ctl.Marshal()}} {
				if err := mesh.WriteFileAtomic(outbox, f.name, func(w io.Writer) error { _, err := w.Write(f.b); return err }, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			msgs, sent[name] = append(msgs, m), content
		}
		stepsA, stepsB := newFileSteps(t, a.data), newFileSteps(t, b.data)
		chunks := map[string]bool{}
		db, _ := b.start("--schedules", sched)
		logs = append(logs, db.log)
		begin := time.Now()
		var run watchedRun
		look := func() int {
			n := stepsA.steps(t) + stepsB.steps(t) + meshChunksSeen(filepath.Join(a.data, "mesh_uploads"), chunks)
			if len(run.seen) == 0 && n > 0 || len(run.seen) > 0 && n != run.seen[len(run.seen)-1].steps {
				run.seen = append(run.seen, progressSeen{at: time.Since(begin), steps: n})
			}
			return n
		}
		var moment *killMoment
		if it > 0 {
			m := ref.plan(rng)
			moment = &m
		}
		var armed time.Time
		for {
			n := look()
			if moment == nil && meshPushDone(t, outbox, a.inboxDir(), len(msgs)) {
				break
			}
			if moment != nil && n >= moment.step {
				if armed.IsZero() {
					armed = time.Now()
				}
				if n >= moment.until || time.Since(armed) >= moment.delay {
					db.kill()
					break
				}
			}
			if time.Since(begin) > 30*time.Second {
				t.Fatalf("iteration %d: the push never finished:\n%s", it, db.log)
			}
			time.Sleep(time.Millisecond)
		}
		if moment == nil {
			ref = run
			total = run.steps()
			db.kill()
			t.Logf("iteration %d (reference): %d steps in %v", it, total, run.seen[len(run.seen)-1].at.Round(time.Millisecond))
		} else {
			n, done := run.steps(), meshPushDone(t, outbox, a.inboxDir(), len(msgs))
			if n > 0 && !done {
				mid++
			}
			t.Logf("iteration %d: SIGKILL after %d of %d steps (plan %+v; the push done: %v)", it, n, total, *moment, done)
			meshInboxCheck(t, a.inboxDir(), sent, fmt.Sprintf("iteration %d, after the kill", it))
			db, _ = b.start("--schedules", sched)
			logs = append(logs, db.log)
			deadline := time.Now().Add(30 * time.Second)
			for !meshPushDone(t, outbox, a.inboxDir(), len(msgs)) {
				if time.Now().After(deadline) {
					t.Fatalf("iteration %d: the push never finished after the restart:\n%s", it, db.log)
				}
				time.Sleep(20 * time.Millisecond)
			}
			db.kill()
		}

		// Every message at A once, whole, tracked by the MESH ID; B's outbox
		// archived once.
		meshInboxCheck(t, a.inboxDir(), sent, fmt.Sprintf("iteration %d, done", it))
		if got := countData(listDir(t, a.inboxDir())); got != len(msgs) {
			t.Errorf("iteration %d: A's inbox holds %d messages, want %d", it, got, len(msgs))
		}
		for _, m := range msgs {
			id := meshInboxControl(t, a.inboxDir(), m.name).DTSID
			var tr map[string]any
			ca.getJSON("/outbox/tracking?messageID="+url.QueryEscape(id), &tr)
			if tr["status"] != "accepted" || tr["filename"] != m.name || tr["local_id"] != m.id {
				t.Errorf("iteration %d: tracking %s at A: %v", it, id, tr)
			}
		}
		var want []string
		for _, m := range msgs {
			want = append(want, m.name, mesh.ControlName(m.name))
		}
		if got := listDir(t, archive); !sameSet(got, want) {
			t.Errorf("iteration %d: B's archive holds %v, want %v", it, got, want)
		}
	}
	audit, _, _ := da.run(t, a.dir, "audit", "--mesh", "--json")
	if n := strings.Count(audit, `"action":"deliver"`); n != len(msgs) {
		t.Errorf("A delivered %d messages, want %d:\n%s", n, len(msgs), audit)
	}
	da.kill()

	// B recorded each message sent (the MESH ID A gave), collected and
	// audited once.
	bdb, err := store.Open(b.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	pushed, collected := map[string]int{}, map[string]int{}
	if err := bdb.View(func(tx *store.Tx) error {
		for _, m := range msgs {
			p, ok, err := tx.MeshPushed(meshCrashLA, m.id)
			if err != nil {
				return err
			}
			if id := meshInboxControl(t, a.inboxDir(), m.name).DTSID; !ok || p.State != store.MeshPushSent || p.MeshID != id {
				t.Errorf("%s: B's record %+v (found %v), want sent as %s", m.name, p, ok, id)
			}
		}
		if err := tx.AuditEvents(func(e store.AuditEvent) error {
			if e.Action == "mesh_pushed" {
				pushed[e.MessageID]++
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Collections(meshCrashLA, func(c store.Collection) error { collected[c.Name]++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if pushed[m.id] != 1 || collected[m.name] != 1 {
			t.Errorf("%s: audited pushed %d times, collected %d times; want once", m.name, pushed[m.id], collected[m.name])
		}
	}
	for i, l := range logs {
		if s := l.String(); strings.Contains(s, "mesh push failed") {
			t.Errorf("run %d of B logged a failed push:\n%s", i, s)
		}
	}
	if kills := iterations - 1; mid < minMidRun(kills) {
		t.Errorf("only %d of %d kills landed mid-push, want at least %d", mid, kills, minMidRun(kills))
	}
	t.Logf("%d messages, %d kills, %d mid-push; %s in all", len(msgs), iterations-1, mid, time.Since(started).Round(time.Millisecond))
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}
