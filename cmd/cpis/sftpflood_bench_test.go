package main

// BenchmarkLookupUnderSFTPFlood: the daemon (`cpis serve`, the real
// binary) answers emergency departments' lookups over HTTP while SFTP is
// attacked from two sides at once:
//
//   - one LA's registered key opens as many connections as it may and, on
//     each, channels without end (before the limits, one key grew the
//     daemon by half a gigabyte with 10,000 channels);
//   - another client holds 200 idle TCP sockets on the SFTP port from one
//     address, opening a new one as soon as one is closed (before the
//     limits, 70 locked every LA out for as long as they were held).
//
// It measures the p99 of unscheduled ED lookups (each durable before it is
// answered) with the daemon quiet, then under the flood, and samples the
// daemon's resident memory; meanwhile another LA must still be able to log
// in and list its inbox. It fails when the flood p99 is over twice the
// quiet one or the memory over 256 MiB. Run with
//
//	go test ./cmd/cpis -run '^$' -bench LookupUnderSFTPFlood -benchtime 1x
//
// and -flood.duration 20s to measure longer (default 8s per phase).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

var floodDuration = flag.Duration("flood.duration", 8*time.Second, "how long BenchmarkLookupUnderSFTPFlood measures each phase")

const (
	floodHTTPClients = 8
	floodIdleSockets = 200
	floodRSSLimitMiB = 256
)

func BenchmarkLookupUnderSFTPFlood(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("reads the daemon's resident memory from /proc")
	}
	bin := filepath.Join(b.TempDir(), "cpis")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	hub := floodHub(b)
	d := floodStart(b, bin, hub.data)
	b.Logf("daemon pid %d: HTTP %s, SFTP %s", d.cmd.Process.Pid, d.http, d.sftp)

	var quiet, flood floodPhase
	for b.Loop() {
		quiet = floodMeasure(b, d, hub, false)
		attacker := startAttacker(b, d.sftp, hub.keyFile)
		flood = floodMeasure(b, d, hub, true)
		counts := attacker.stop(b)
		b.Logf("flood: %s", counts)
		if !strings.Contains(counts, "channels refused") || strings.Contains(counts, " 0 channels refused") || strings.Contains(counts, "(0 closed") {
			b.Error("the flood did not reach the limits")
		}
	}
	peak := rssMiB(d.cmd.Process.Pid, "VmHWM")
	b.ReportMetric(quiet.p99, "quiet-p99-ms")
	b.ReportMetric(flood.p99, "flood-p99-ms")
	b.ReportMetric(quiet.rate, "quiet-lookups/s")
	b.ReportMetric(flood.rate, "flood-lookups/s")
	b.ReportMetric(flood.maxRSS, "flood-rss-MiB")
	b.ReportMetric(peak, "peak-rss-MiB")
	b.ReportMetric(quiet.cpu, "quiet-daemon-cpu-%")
	b.ReportMetric(flood.cpu, "flood-daemon-cpu-%")
	b.Logf("quiet: %d lookups, %.0f/s, p50 %.2f ms, p99 %.2f ms, RSS %.1f MiB, daemon CPU %.0f%%", quiet.n, quiet.rate, quiet.p50, quiet.p99, quiet.maxRSS, quiet.cpu)
	b.Logf("flood: %d lookups, %.0f/s, p50 %.2f ms, p99 %.2f ms, RSS %.1f MiB, daemon CPU %.0f%%; peak RSS of the daemon %.1f MiB",
		flood.n, flood.rate, flood.p50, flood.p99, flood.maxRSS, flood.cpu, peak)
	if flood.p99 > 2*quiet.p99 {
		b.Errorf("lookup p99 under the SFTP flood %.2f ms, over twice the quiet %.2f ms", flood.p99, quiet.p99)
	}
	if peak > floodRSSLimitMiB {
		b.Errorf("the daemon's resident memory peaked at %.1f MiB, over %d MiB", peak, floodRSSLimitMiB)
	}
}

// floodHubData is a data dir with two LAs (841 floods, 842 must still be
// served), 200 people with a plan, an ED organisation and a key per LA.
type floodHubData struct {
	data    string
	token   string
	keyFile string // LA 841's private key, for the attacker
	people  []string
	keys    map[string]ssh.Signer // mailbox ID -> key
}

func floodHub(b *testing.B) *floodHubData {
	b.Helper()
	tmp := b.TempDir()
	h := &floodHubData{data: filepath.Join(tmp, "data"), people: testNHS(200), keys: map[string]ssh.Signer{}}
	cli := func(args ...string) string {
		b.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"--data", h.data, "--now", "2026-11-22T02:30:00Z"}, args...), &out, &errb); code != exitOK {
			b.Fatalf("cpis %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	write := func(name, body string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	var pds, rows [2]strings.Builder
	pds[0].WriteString("nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n")
	for i, n := range h.people {
		fmt.Fprintf(&pds[0], "%s,,,2015-01-01,,,\n", n)
		fmt.Fprintf(&rows[i%2], "%s,CPP,2026-01-02,,,F-%d\r\n", n, i)
	}
	las := "la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone\n" +
		"841,E09000101,Authority 841,London,,020 7946 0001,\n842,E09000102,Authority 842,London,,020 7946 0002,\n"
	cli("init", "--authorities", write("authorities.csv", las), "--pds", write("pds.csv", pds[0].String()))
	for i, la := range []string{"841", "842"} {
		cli("mailbox", "send", "--la", la, write("CPIS_"+la+"_FULL_20261121.csv",
			"nhs_number,plan_type,start_date,end_date,due_date,local_id\r\n"+rows[i].String()))
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			b.Fatal(err)
		}
		h.keys["LA"+la+"HC001"] = signer
		if la == "841" {
			block, err := ssh.MarshalPrivateKey(priv, "flood")
			if err != nil {
				b.Fatal(err)
			}
			h.keyFile = write("id_841", string(pem.EncodeToMemory(block)))
		}
		cli("keys", "add", "--la", la, write("id_"+la+".pub", string(ssh.MarshalAuthorizedKey(signer.PublicKey()))))
	}
	if out := cli("ingest", "--json"); strings.Count(out, `"code":"CPF02"`) != 2 {
		b.Fatalf("ingest: %s", out)
	}
	h.token = strings.TrimSpace(cli("orgs", "add", "RFL01", "--name", "Flood Test Hospital Emergency Department"))
	return h
}

// floodDaemon is the `cpis serve` process measured.
type floodDaemon struct {
	cmd        *exec.Cmd
	log        *syncBuffer
	http, sftp string // addresses
}

func floodStart(b *testing.B, bin, data string) *floodDaemon {
	b.Helper()
	d := &floodDaemon{log: &syncBuffer{}}
	d.cmd = exec.Command(bin, "--data", data, "--now", "2026-11-22T10:00:00Z", "serve", "--no-scheduler",
		"--http", "127.0.0.1:0", "--sftp", "127.0.0.1:0")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = d.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
	})
	httpRe := regexp.MustCompile(`HTTP lookup API listening.* addr=(\S+)`)
	sftpRe := regexp.MustCompile(`SFTP server listening.* addr=(\S+)`)
	for deadline := time.Now().Add(30 * time.Second); ; {
		log := d.log.String()
		if h, s := httpRe.FindStringSubmatch(log), sftpRe.FindStringSubmatch(log); h != nil && s != nil {
			d.http, d.sftp = h[1], s[1]
			return d
		}
		select {
		case <-done:
			b.Fatalf("the daemon exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("the daemon did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// floodPhase is what one phase measured.
type floodPhase struct {
	n              int
	rate, p50, p99 float64 // lookups/s, ms
	maxRSS         float64 // MiB, sampled
	cpu            float64 // the daemon's CPU use, % of one core
}

// floodMeasure drives unscheduled ED lookups from floodHTTPClients
// keep-alive clients for the phase's duration, sampling the daemon's
// resident memory; under attack, LA 842 logs in and lists its inbox
// meanwhile.
func floodMeasure(b *testing.B, d *floodDaemon, h *floodHubData, attack bool) floodPhase {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: floodHTTPClients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + d.http + "/v1/alerts/"
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		user     atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
		maxRSS   atomic.Uint64 // KiB
	)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if kib := rssKiB(d.cmd.Process.Pid, "VmRSS"); kib > maxRSS.Load() {
					maxRSS.Store(kib)
				}
			}
		}
	}()
	start := time.Now()
	cpu0 := cpuTime(d.cmd.Process.Pid)
	deadline := start.Add(*floodDuration)
	for w := range floodHTTPClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := w; time.Now().Before(deadline); i += floodHTTPClients {
				req, _ := http.NewRequest(http.MethodGet, url+h.people[i%len(h.people)], nil)
				req.Header.Set("Authorization", "Bearer "+h.token)
				req.Header.Set("X-Setting", "ED")
				req.Header.Set("X-User-Name", fmt.Sprintf("Clinician %d", user.Add(1)))
				req.Header.Set("X-User-Role", "Staff Nurse")
				req.Header.Set("X-RBAC", "B0264,B0107")
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"alert"`)) {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %.200s (%v)", resp.StatusCode, body, err))
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	if attack {
		// An LA not in the flood is served meanwhile.
		time.Sleep(*floodDuration / 2)
		if err := floodLogin(d.sftp, "LA842HC001", h.keys["LA842HC001"]); err != nil {
			b.Errorf("LA 842 during the flood: %v", err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime(d.cmd.Process.Pid) - cpu0
	close(stop)
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d lookups failed; first: %v", n, firstErr.Load())
	}
	if len(lat) == 0 {
		b.Fatal("no lookup answered")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return floodPhase{n: len(lat), rate: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99),
		maxRSS: float64(maxRSS.Load()) / 1024, cpu: 100 * cpu.Seconds() / elapsed.Seconds()}
}

// cpuTime reads the user and system CPU time process pid has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (in parentheses): utime and stime are
	// the 12th and 13th, in clock ticks (100 a second on Linux).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// floodLogin logs in as mailbox and lists /inbox, within 10 seconds.
func floodLogin(addr, mailbox string, key ssh.Signer) error {
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: mailbox, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	c, err := sftp.NewClient(conn)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.ReadDir("/inbox")
	return err
}

// floodAttacker is the SFTP flood, run by this test binary in a process
// of its own (runFloodAttacker, from TestMain) at the lowest CPU priority: an
// attacker would be on another machine, and on a small one its own CPU use
// would otherwise be measured as the daemon's slowness.
type floodAttacker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
}

func startAttacker(b *testing.B, addr, keyFile string) *floodAttacker {
	b.Helper()
	a := &floodAttacker{cmd: exec.Command(os.Args[0])}
	a.cmd.Env = append(os.Environ(), "CPIS_FLOOD_ATTACK="+addr, "CPIS_FLOOD_KEY="+keyFile)
	a.cmd.Stdout, a.cmd.Stderr = &a.out, &a.out
	var err error
	if a.stdin, err = a.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, a.cmd.Process.Pid, 19); err != nil {
		b.Logf("attacker priority: %v", err)
	}
	time.Sleep(time.Second) // under way before the measure starts
	return a
}

// stop ends the attack (closing its stdin) and returns what it counted.
func (a *floodAttacker) stop(b *testing.B) string {
	b.Helper()
	a.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b.Errorf("attacker: %v\n%s", err, a.out.String())
		}
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		b.Errorf("the attacker did not stop:\n%s", a.out.String())
	}
	_, counts, _ := strings.Cut(a.out.String(), "FLOOD ")
	counts, _, _ = strings.Cut(counts, "\n")
	return counts
}

// runFloodAttacker is BenchmarkLookupUnderSFTPFlood's attacker, run by
// TestMain when this test binary is started as the attacker process
// (CPIS_FLOOD_ATTACK set): it floods addr until its stdin closes, then
// prints its counts. It returns the process's exit code.
func runFloodAttacker(addr string) int {
	pem, err := os.ReadFile(os.Getenv("CPIS_FLOOD_KEY"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	key, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	a := startFlood(addr, key)
	_, _ = io.Copy(io.Discard, os.Stdin)
	stopped := make(chan struct{})
	go func() { a.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		fmt.Printf("STUCK\n%s\n", buf[:runtime.Stack(buf, true)])
	}
	fmt.Printf("FLOOD %d channels refused, %d channel opens failed otherwise, %d sockets opened (%d closed by the server)\n",
		a.refusedChannels.Load(), a.otherChannelErrs.Load(), a.sockets.Load(), a.socketsClosed.Load())
	return 0
}

// floodAttack is the SFTP flood running.
type floodAttack struct {
	cancel           context.CancelFunc
	wg               sync.WaitGroup
	refusedChannels  atomic.Int64
	otherChannelErrs atomic.Int64
	sockets          atomic.Int64
	socketsClosed    atomic.Int64
}

func (a *floodAttack) stop() {
	a.cancel()
	a.wg.Wait()
}

// startFlood starts LA 841's channel flood (on as many connections as it
// is given) and the idle sockets from 127.0.0.2.
func startFlood(addr string, key ssh.Signer) *floodAttack {
	ctx, cancel := context.WithCancel(context.Background())
	a := &floodAttack{cancel: cancel}
	for range 16 { // more than the sessions a mailbox may have
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for ctx.Err() == nil {
				conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "LA841HC001", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
					HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				stop := context.AfterFunc(ctx, func() { conn.Close() })
				for ctx.Err() == nil {
					ch, reqs, err := conn.OpenChannel("session", nil)
					var oce *ssh.OpenChannelError
					switch {
					case errors.As(err, &oce):
						a.refusedChannels.Add(1)
						continue
					case err != nil:
						a.otherChannelErrs.Add(1)
					default:
						go ssh.DiscardRequests(reqs)
						// Held open, with the SFTP subsystem started.
						_, _ = ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{"sftp"}))
						continue
					}
					break
				}
				stop()
				conn.Close()
			}
		}()
	}
	var dialer = net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	for range floodIdleSockets {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			buf := make([]byte, 512)
			for ctx.Err() == nil {
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				a.sockets.Add(1)
				stop := context.AfterFunc(ctx, func() { c.Close() })
				for { // silent: read what the server says until it closes
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				if ctx.Err() == nil {
					a.socketsClosed.Add(1)
				}
				stop()
				c.Close()
				time.Sleep(100 * time.Millisecond) // then open a new one
			}
		}()
	}
	return a
}

// rssKiB reads a memory figure (VmRSS, VmHWM) of process pid, in KiB.
func rssKiB(pid int, field string) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func rssMiB(pid int, field string) float64 { return float64(rssKiB(pid, field)) / 1024 }
