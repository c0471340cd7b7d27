package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/meshapi/meshload"
	"cpis/store"
)

var hexKey = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

func TestCLIMesh(t *testing.T) {
	h := initCLIHub(t)
	key := h.ok("mesh", "key")
	if !hexKey.MatchString(key) {
		t.Fatalf("mesh key printed %q, want the 64 hex characters init made", key)
	}
	if again := h.ok("mesh", "key"); again != key {
		t.Errorf("mesh key again printed %q, want %q", again, key)
	}
	r := h.run("mesh", "key", "--rotate")
	if r.code != exitOK || !hexKey.MatchString(r.stdout) || r.stdout == key || !strings.Contains(r.stderr, "new MESH shared key") {
		t.Errorf("mesh key --rotate: %d %q %q", r.code, r.stdout, r.stderr)
	}
	rotated := r.stdout

	if out := h.ok("mesh", "mailboxes"); out != "No mailbox has a MESH password (cpis mesh password MAILBOX).\n" {
		t.Errorf("mailboxes, none: %q", out)
	}
	r = h.run("mesh", "password", "la841hc001")
	pw := strings.TrimSuffix(r.stdout, "\n")
	if r.code != exitOK || len(pw) < 32 || strings.Contains(pw, "\n") || !strings.Contains(r.stderr, "shown this once") {
		t.Fatalf("mesh password: %d %q %q", r.code, r.stdout, r.stderr)
	}
	meshStdin = strings.NewReader("chosen password\r\n")
	t.Cleanup(func() { meshStdin = os.Stdin })
	if r := h.run("mesh", "password", "LA202HC001", "--stdin"); r.code != exitOK || r.stdout != "" || r.stderr != "" {
		t.Errorf("mesh password --stdin: %d %q %q, want silence", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"mesh", "password", "CPISHUB01"}, exitFailure, "the hub's own mailbox"},
		{[]string{"mesh", "password", "LA999HC001"}, exitFailure, "is no LA's mailbox"},
		{[]string{"mesh", "password"}, exitUsage, "accepts 1 arg"},
		{[]string{"mesh", "password", "LA841HC001", "--forwarded-password", "x"}, exitUsage, "for the daemon only"},
		{[]string{"audit", "--mesh", "--sftp"}, exitUsage, "give one of --sftp, --mesh and --web, not 2"},
	} {
		r := h.run(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("cpis %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.msg)
		}
	}

	out := h.ok("mesh", "mailboxes", "--json")
	want := []map[string]any{
		{"mailbox_id": "LA202HC001", "la": "202", "password_set": "2026-11-22T02:30:00Z"},
		{"mailbox_id": "LA841HC001", "la": "841", "password_set": "2026-11-22T02:30:00Z"},
	}
	if diff := cmp.Diff(want, cliJSONLines(t, out)); diff != "" {
		t.Errorf("mailboxes --json (-want +got):\n%s", diff)
	}
	table := h.ok("mesh", "mailboxes")
	if !strings.HasPrefix(table, "MAILBOX     LA   PASSWORD SET (UTC)") || !strings.Contains(table, "LA841HC001  841  2026-11-22 02:30    never") {
		t.Errorf("mailboxes table:\n%s", table)
	}
	// Nothing prints a password or the key but the commands meant to.
	for _, args := range [][]string{{"mesh", "mailboxes", "--json"}, {"mesh", "mailboxes"}, {"audit", "--mesh", "--json"}, {"audit", "--mesh"}} {
		out := h.ok(args...)
		for _, secret := range []string{pw, "chosen password", strings.TrimSpace(rotated)} {
			if strings.Contains(out, secret) {
				t.Errorf("cpis %s prints a secret", strings.Join(args, " "))
			}
		}
	}

	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *store.Tx) error {
		k, pws, err := tx.MeshCredentials()
		if string(k) != strings.TrimSpace(rotated) {
			t.Errorf("stored key %q, want the rotated one", k)
		}
		if diff := cmp.Diff(map[string][]byte{"LA841HC001": []byte(pw), "LA202HC001": []byte("chosen password")}, pws); diff != "" {
			t.Errorf("stored passwords (-want +got):\n%s", diff)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// cliMeshClient is a small MESH client (mesh/meshapi/mesh-api.md): v2 bodies, a token
// of its own on every request, chunked gzipped sends.
type cliMeshClient struct {
	t                            testing.TB
	base, mailbox, password, key string
	now                          time.Time
	nonce                        int
	http                         *http.Client
}

func (c *cliMeshClient) do(method, path string, h map[string]string, body []byte) (int, http.Header, []byte) {
	c.t.Helper()
	c.nonce++
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+"/messageexchange/"+c.mailbox+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.mesh.v2+json")
	req.Header.Set("Authorization", meshload.Sign(c.key, c.mailbox, fmt.Sprintf("n-%d-%d", time.Now().UnixNano(), c.nonce), "0", c.password, c.now))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// send sends data to the hub in gzipped chunks of chunk bytes and returns
// the message ID.
func (c *cliMeshClient) send(name string, data []byte, chunk int) string {
	c.t.Helper()
	var chunks [][]byte
	for off := 0; off < len(data); off += chunk {
		chunks = append(chunks, data[off:min(off+chunk, len(data))])
	}
	h := map[string]string{"Content-Type": "application/octet-stream", "Content-Encoding": "gzip",
		"Mex-Chunk-Range": fmt.Sprintf("1:%d", len(chunks)), "Mex-To": mesh.HubMailbox, "Mex-WorkflowID": mesh.WorkflowUpload,
		"Mex-FileName": name, "Mex-LocalID": "local-1"}
	status, _, body := c.do("POST", "/outbox", h, meshload.Gzip(chunks[0]))
	var sent struct {
		ID string `json:"message_id"`
	}
	if err := json.Unmarshal(body, &sent); status != http.StatusAccepted || err != nil || sent.ID == "" {
		c.t.Fatalf("send: %d %s", status, body)
	}
	for k := 2; k <= len(chunks); k++ {
		h := map[string]string{"Content-Type": "application/octet-stream", "Content-Encoding": "gzip", "Mex-Chunk-Range": fmt.Sprintf("%d:%d", k, len(chunks))}
		if status, _, body := c.do("POST", "/outbox/"+sent.ID+"/"+strconv.Itoa(k), h, meshload.Gzip(chunks[k-1])); status != http.StatusAccepted {
			c.t.Fatalf("chunk %d: %d %s", k, status, body)
		}
	}
	return sent.ID
}

func (c *cliMeshClient) getJSON(path string, v any) {
	c.t.Helper()
	status, _, body := c.do("GET", path, nil, nil)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
}

// The daemon with --mesh: a MESH client's password set through the
// daemon from standard input, a return sent in gzipped chunks, taken by
// ingest under its MESH message ID, the response downloaded and
// acknowledged, the whole of it audited.
func TestServeMesh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := cpisBinary(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	people := testNHS(50)
	files := map[string]string{
		"authorities.csv": "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone\n" +
			"201,E09000001,City of London,London,,020 7946 0001,\n202,E09000007,Camden,London,,020 7946 0002,\n",
		"pds.csv": pdsCSV(people),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := &daemon{bin: bin, data: data}
	if _, stderr, code := d.run(t, tmp, "init", "--authorities", "authorities.csv", "--pds", "pds.csv"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	// Plain HTTP off loopback is refused before anything starts.
	if _, stderr, code := d.run(t, tmp, "serve", "--no-http", "--no-sftp", "--no-scheduler", "--mesh", "0.0.0.0:0"); code != 1 ||
		!strings.Contains(stderr, "plain HTTP is allowed only on a loopback address") {
		t.Errorf("serve --mesh 0.0.0.0:0 without TLS: %d %q", code, stderr)
	}
	sched := filepath.Join(tmp, "schedules")
	writeSchedules(t, sched, "@every 1h")
	d = startDaemon(t, bin, data, "--schedules", sched, "--mesh", "127.0.0.1:0")
	waitLog(t, d, "MESH API listening")
	m := regexp.MustCompile(`MESH API listening" addr=(\S+)`).FindStringSubmatch(d.log.String())
	if m == nil {
		t.Fatalf("no MESH address in the log:\n%s", d.log)
	}

	// The password, from standard input, through the daemon.
	cmd := binCommand(bin, data, serveNow, nil, "mesh", "password", "LA201HC001", "--stdin")
	cmd.Stdin = strings.NewReader("pw-of-201\n")
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("mesh password --stdin through the daemon: %v %q", err, out)
	}
	key, stderr, code := d.run(t, tmp, "mesh", "key")
	if code != 0 || !hexKey.MatchString(key) {
		t.Fatalf("mesh key through the daemon: %d %q %q", code, key, stderr)
	}
	now, _ := time.Parse(time.RFC3339, serveNow)
	c := &cliMeshClient{t: t, base: "http://" + m[1], mailbox: "LA201HC001", password: "pw-of-201", key: strings.TrimSpace(key),
		now: now, http: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
	if status, _, body := c.do("POST", "", map[string]string{"mex-ClientVersion": "mesh_client==3.2", "mex-OSName": "Linux"}, nil); status != http.StatusOK {
		t.Fatalf("handshake: %d %s", status, body)
	}

	ret := "nhs_number,plan_type,start_date,local_id\n" + people[0] + ",CPP,2026-03-02,C-1\n" + people[1] + ",LAC,2026-04-01,C-2\n"
	id := c.send("CPIS_201_FULL_20261121.csv", []byte(ret), 40)
	var tr map[string]any
	c.getJSON("/outbox/tracking?messageID="+url.QueryEscape(id), &tr)
	if tr["status"] != "accepted" {
		t.Errorf("tracking before ingest: %v", tr)
	}
	out, _, code := d.run(t, tmp, "ingest", "--json")
	if code != 0 || !strings.Contains(out, `"message_id":"`+id+`"`) || !strings.Contains(out, `"code":"CPF02"`) {
		t.Fatalf("ingest through the daemon: %d %q, want message %s applied", code, out, id)
	}
	c.getJSON("/outbox/tracking?messageID="+url.QueryEscape(id), &tr)
	if tr["status"] != "acknowledged" {
		t.Errorf("tracking after ingest: %v", tr)
	}

	var inbox struct {
		Messages []string `json:"messages"`
	}
	c.getJSON("/inbox", &inbox)
	if len(inbox.Messages) != 1 {
		t.Fatalf("MESH inbox %v, want the response", inbox.Messages)
	}
	status, hdr, body := c.do("GET", "/inbox/"+inbox.Messages[0], nil, nil)
	if status != http.StatusOK || hdr.Get("mex-workflowid") != mesh.WorkflowUploadAck || !strings.Contains(string(body), id) {
		t.Errorf("download: %d %v %q", status, hdr, body)
	}
	if status, _, body := c.do("PUT", "/inbox/"+inbox.Messages[0]+"/status/acknowledged", nil, nil); status != http.StatusOK {
		t.Fatalf("acknowledge: %d %s", status, body)
	}
	c.getJSON("/inbox", &inbox)
	if len(inbox.Messages) != 0 {
		t.Errorf("MESH inbox after the acknowledgement: %v", inbox.Messages)
	}
	if out, _, _ := d.run(t, tmp, "mailbox", "list", "--la", "201"); out != "Nothing waits in any mailbox.\n" {
		t.Errorf("mailbox list after the acknowledgement: %q", out)
	}

	out, _, code = d.run(t, tmp, "mesh", "mailboxes", "--json")
	if code != 0 || !strings.Contains(out, `"last_handshake":"2026-11-22T02:30:00Z","client_version":"mesh_client==3.2","os_name":"Linux"`) {
		t.Errorf("mesh mailboxes: %d %q", code, out)
	}
	out, _, code = d.run(t, tmp, "audit", "--mesh", "--json")
	for _, action := range []string{"handshake", "send", "chunk", "deliver", "track", "list", "download", "acknowledge"} {
		if !strings.Contains(out, `"action":"`+action+`"`) {
			t.Errorf("audit --mesh (exit %d) has no %s:\n%s", code, action, out)
		}
	}
	if strings.Contains(out, "pw-of-201") || strings.Contains(out, strings.TrimSpace(key)) || strings.Contains(d.log.String(), "pw-of-201") {
		t.Error("a secret in the MESH audit or the daemon's log")
	}

	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err, ok := d.wait(30 * time.Second); !ok || err != nil {
		t.Errorf("daemon stop: %v (in time: %v)\n%s", err, ok, d.log)
	}
}
