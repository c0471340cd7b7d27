package meshapi_test

// The load benchmark: a MESH API server in a process of its own (so that
// its CPU time, read with getrusage, is the server's alone), over
// loopback, backed by fsstore (durable: a journal with group commits) and
// the upload area, driven by Go clients that behave as NHS England's
// client does.
//
//	go test -run '^$' -bench Load -benchtime 1x ./mesh/meshapi/
//
// Metrics: sends/s and recv+ack/s (1,000 messages of 1 KiB, sent, then
// listed, downloaded and acknowledged), MiB/s, and the server's CPU time
// per message in each phase.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/fsstore"
	"cpis/mesh/meshapi/memory"
	"cpis/mesh/meshapi/meshload"
)

const (
	benchServerEnv = "MESHAPI_BENCH_SERVER" // the data directory of the server process
	benchWorkflow  = "BENCH"
	benchPassword  = "bench-password"
	benchMailboxes = 16
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServerEnv); dir != "" {
		if err := benchServer(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func benchMailbox(i int) string { return fmt.Sprintf("BENCH%02d", i) }

// benchServer serves until its standard input closes; it prints its
// address, then its CPU time (user+system, ns) for each line it reads.
func benchServer(dir string) error {
	var mbs []memory.Mailbox
	for i := range benchMailboxes {
		mbs = append(mbs, memory.Mailbox{ID: benchMailbox(i), Name: benchMailbox(i), Password: benchPassword,
			Sends: []string{benchWorkflow}, Receives: []string{benchWorkflow}})
	}
	accounts := memory.New(sharedKey, mbs...)
	fs, err := fsstore.Open(filepath.Join(dir, "store"))
	if err != nil {
		return err
	}
	fs.Routes = accounts
	up, err := meshapi.OpenUploads(filepath.Join(dir, "uploads"))
	if err != nil {
		return err
	}
	s, err := meshapi.New(meshapi.Config{Accounts: accounts, Router: fs, Inbox: fs, Tracking: fs, Directory: accounts,
		Uploads: up, MaxConcurrent: 1024, Rate: 1e9, Burst: 1e9, MaxMessage: 1 << 30})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if prof := os.Getenv("MESHAPI_BENCH_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	hs := meshapi.NewHTTPServer("", s)
	go hs.Serve(l)
	fmt.Println(l.Addr().String())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			return err
		}
		fmt.Println(time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Nanoseconds(), fs.Syncs())
	}
	return hs.Shutdown(context.Background())
}

// benchProc is the server process as the benchmark sees it.
type benchProc struct {
	url   string
	stdin io.WriteCloser
	out   *bufio.Scanner
	cmd   *exec.Cmd
}

func startBenchServer(b *testing.B) *benchProc {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+b.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &benchProc{stdin: stdin, out: bufio.NewScanner(stdout), cmd: cmd}
	if !p.out.Scan() {
		b.Fatal("bench server did not start")
	}
	p.url = "http://" + p.out.Text()
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return p
}

// usage returns the server's CPU time so far and its journal flushes.
func (p *benchProc) usage(b *testing.B) (time.Duration, int64) {
	b.Helper()
	io.WriteString(p.stdin, "usage\n")
	if !p.out.Scan() {
		b.Fatal("bench server gone")
	}
	f := strings.Fields(p.out.Text())
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	syncs, _ := strconv.ParseInt(f[1], 10, 64)
	return time.Duration(ns), syncs
}

func benchClients(b *testing.B, p *benchProc, n int) []*meshClient {
	var cs []*meshClient
	for i := range n {
		c := newMeshClient(b, p.url, benchMailbox(i), benchPassword, time.Now)
		c.HTTP = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
		cs = append(cs, c)
	}
	return cs
}

func BenchmarkLoad(b *testing.B) {
	for _, clients := range []int{4, 16} {
		b.Run(fmt.Sprintf("1KiB/clients=%d", clients), func(b *testing.B) {
			for range b.N {
				benchSmall(b, clients, 1000, 1024)
			}
		})
	}
	b.Run("50MiB/chunks=20MiB", func(b *testing.B) {
		for range b.N {
			benchLarge(b, 5, 50<<20, 20<<20)
		}
	})
}

func benchSmall(b *testing.B, clients, total, size int) {
	p := startBenchServer(b)
	cs := benchClients(b, p, clients)
	data := bytes.Repeat([]byte("9990000018,CPP\n"), size/15+1)[:size]
	cpu0, sync0 := p.usage(b)
	own0 := selfCPU()
	sendTime := meshload.Parallel(cs, func(i int, c *meshClient) {
		for j := i; j < total; j += clients {
			c.Send(c.Mailbox, benchWorkflow, fmt.Sprintf("m%d.csv", j), data, size, false)
		}
	})
	cpu1, sync1 := p.usage(b)
	var mu sync.Mutex
	received := 0
	recvTime := meshload.Parallel(cs, func(i int, c *meshClient) {
		n := 0
		for {
			ids := c.IDs(500)
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				if got := c.Retrieve(id); len(got) != size {
					b.Errorf("%s: %d bytes", id, len(got))
				}
				c.Ack(id)
				n++
			}
		}
		mu.Lock()
		received += n
		mu.Unlock()
	})
	cpu2, sync2 := p.usage(b)
	own2 := selfCPU()
	if received != total {
		b.Fatalf("received %d of %d", received, total)
	}
	mib := float64(total*size) / (1 << 20)
	b.ReportMetric(float64(total)/sendTime.Seconds(), "sends/s")
	b.ReportMetric(float64(total)/recvTime.Seconds(), "recv+ack/s")
	b.ReportMetric(mib/sendTime.Seconds(), "send-MiB/s")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(total), "server-ms/send")
	b.ReportMetric(float64((cpu2-cpu1).Microseconds())/1000/float64(total), "server-ms/recv+ack")
	b.ReportMetric(float64((own2-own0).Microseconds())/1000/float64(total), "client-ms/msg")
	b.ReportMetric(float64(sync1-sync0)/float64(total), "flushes/send")
	b.ReportMetric(float64(sync2-sync1)/float64(total), "flushes/ack")
}

func benchLarge(b *testing.B, count, size, chunk int) {
	p := startBenchServer(b)
	cs := benchClients(b, p, 1)
	c := cs[0]
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	cpu0, _ := p.usage(b)
	var ids []string
	start := time.Now()
	for j := range count {
		ids = append(ids, c.Send(c.Mailbox, benchWorkflow, fmt.Sprintf("big%d.csv", j), data, chunk, false))
	}
	sendTime := time.Since(start)
	cpu1, _ := p.usage(b)
	start = time.Now()
	for _, id := range ids {
		if got := c.Retrieve(id); len(got) != size {
			b.Fatalf("%s: %d bytes", id, len(got))
		}
		c.Ack(id)
	}
	recvTime := time.Since(start)
	cpu2, _ := p.usage(b)
	mib := float64(count*size) / (1 << 20)
	b.ReportMetric(mib/sendTime.Seconds(), "send-MiB/s")
	b.ReportMetric(mib/recvTime.Seconds(), "recv-MiB/s")
	b.ReportMetric(float64((cpu1-cpu0).Milliseconds())/float64(count), "server-ms/send")
	b.ReportMetric(float64((cpu2-cpu1).Milliseconds())/float64(count), "server-ms/recv+ack")
}

// selfCPU is this process's CPU time so far: the clients'.
func selfCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
