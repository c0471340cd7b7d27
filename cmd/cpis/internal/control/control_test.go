//go:build unix

package control_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/cmd/cpis/internal/control"
)

// serve starts a control socket in a fresh data dir, answering with run;
// it stops when the test ends. It returns the data dir.
func serve(t *testing.T, run control.Runner) string {
	t.Helper()
	dir := t.TempDir()
	l, err := control.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- control.Serve(ctx, l, run) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return dir
}

// forward runs args through the daemon of dir.
func forward(ctx context.Context, dir string, args ...string) (code int, stdout, stderr string, err error) {
	c, err := control.Dial(dir)
	if err != nil {
		return 1, "", "", err
	}
	var out, errb bytes.Buffer
	code, err = control.Forward(ctx, c, args, &out, &errb)
	return code, out.String(), errb.String(), err
}

func TestRoundTrip(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 3<<20/16) // three frames' worth
	dir := serve(t, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		switch args[0] {
		case "echo":
			fmt.Fprintln(stdout, strings.Join(args[1:], " "))
			fmt.Fprintln(stderr, "to stderr")
			return 0
		case "big":
			io.WriteString(stdout, big)
			return 0
		case "fail":
			fmt.Fprintln(stderr, "cpis: it failed")
			return 2
		}
		return 1
	})
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"echo", "--data", "/srv/cpis", "a b", "ü"}, 0, "--data /srv/cpis a b ü\n", "to stderr\n"},
		{[]string{"big"}, 0, big, ""},
		{[]string{"fail"}, 2, "", "cpis: it failed\n"},
	}
	for _, c := range cases {
		code, stdout, stderr, err := forward(t.Context(), dir, c.args...)
		if err != nil {
			t.Fatalf("%v: %v", c.args[0], err)
		}
		if code != c.code || stdout != c.stdout || stderr != c.stderr {
			t.Errorf("%s: exit %d, stdout %d bytes, stderr %q; want exit %d, stdout %d bytes, stderr %q",
				c.args[0], code, len(stdout), stderr, c.code, len(c.stdout), c.stderr)
		}
	}
}

func TestSocketOwnerOnly(t *testing.T) {
	// A permissive umask must not leak into the socket's mode.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := serve(t, func(context.Context, []string, io.Writer, io.Writer) int { return 0 })
	fi, err := os.Stat(control.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("%s is not a socket: %v", control.Path(dir), fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %o, want 600", perm)
	}
}

func TestListen(t *testing.T) {
	t.Run("another daemon", func(t *testing.T) {
		dir := serve(t, func(context.Context, []string, io.Writer, io.Writer) int { return 0 })
		if l, err := control.Listen(dir); err == nil || !strings.Contains(err.Error(), "another cpis daemon is running") {
			if l != nil {
				l.Close()
			}
			t.Errorf("second Listen: %v, want another daemon running", err)
		}
	})
	t.Run("stale socket replaced", func(t *testing.T) {
		dir := t.TempDir()
		// A daemon that died left its socket file behind.
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: control.Path(dir), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		old.SetUnlinkOnClose(false)
		old.Close()
		if _, err := control.Dial(dir); !errors.Is(err, control.ErrNoDaemon) {
			t.Fatalf("dial of a stale socket: %v, want ErrNoDaemon", err)
		}
		l, err := control.Listen(dir)
		if err != nil {
			t.Fatalf("Listen over a stale socket: %v", err)
		}
		l.Close()
	})
	t.Run("no data dir", func(t *testing.T) {
		if l, err := control.Listen(filepath.Join(t.TempDir(), "missing")); err == nil {
			l.Close()
			t.Error("Listen in a missing dir succeeded")
		}
	})
}

func TestDialNoDaemon(t *testing.T) {
	if _, err := control.Dial(t.TempDir()); !errors.Is(err, control.ErrNoDaemon) {
		t.Errorf("dial with no daemon: %v, want ErrNoDaemon", err)
	}
}

// TestClientGoesAway: a client that disconnects mid-command cancels the
// command, and a client whose context ends stops waiting and disconnects.
func TestClientGoesAway(t *testing.T) {
	started, cancelled := make(chan string, 2), make(chan string, 2)
	dir := serve(t, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		started <- args[0]
		select {
		case <-ctx.Done():
			cancelled <- args[0]
		case <-time.After(20 * time.Second):
		}
		return 0
	})
	t.Run("disconnect", func(t *testing.T) {
		c, err := control.Dial(dir)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := json.Marshal(control.Request{Args: []string{"closer"}})
		if _, err := c.Write(append(req, '\n')); err != nil {
			t.Fatal(err)
		}
		waitFor(t, started, "closer", "command start")
		c.Close()
		waitFor(t, cancelled, "closer", "command cancelled")
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, _, _, err := forward(ctx, dir, "canceller")
			done <- err
		}()
		waitFor(t, started, "canceller", "command start")
		cancel()
		if err := waitFor(t, done, nil, "Forward's return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Forward after cancel: %v, want context.Canceled", err)
		}
		waitFor(t, cancelled, "canceller", "command cancelled")
	})
}

func waitFor[T comparable](t *testing.T, c <-chan T, want T, what string) T {
	t.Helper()
	var zero T
	select {
	case got := <-c:
		if want != zero && got != want {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
		return got
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s after 10s", what)
	}
	return zero
}

// TestBadRequest: a request that is not one JSON line runs nothing and
// ends the connection.
func TestBadRequest(t *testing.T) {
	ran := make(chan struct{}, 1)
	dir := serve(t, func(context.Context, []string, io.Writer, io.Writer) int { ran <- struct{}{}; return 0 })
	c, err := control.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("not json\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 16)); err != io.EOF {
		t.Errorf("after a bad request: read %d bytes, %v; want EOF", n, err)
	}
	select {
	case <-ran:
		t.Error("a bad request ran a command")
	default:
	}
}

// fakeDaemon answers one connection with the bytes of reply, then closes
// it; it returns the request line it got.
func fakeDaemon(t *testing.T, reply []byte) (dir string, request <-chan string) {
	t.Helper()
	dir = t.TempDir()
	l, err := control.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
		c.Write(reply)
	}()
	return dir, got
}

func frame(kind byte, p []byte) []byte {
	hdr := []byte{kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	return append(hdr, p...)
}

// TestForwardErrors: what the client says when the daemon's answer is
// cut short or malformed.
func TestForwardErrors(t *testing.T) {
	cases := []struct {
		name  string
		reply []byte
		want  string
	}{
		{"closed before the exit", frame(1, []byte("partial output\n")), "the daemon closed the connection before the command ended"},
		{"no answer", nil, "the daemon closed the connection before the command ended"},
		{"frame too large", []byte{1, 0xff, 0xff, 0xff, 0xff}, "the daemon sent a frame of 4294967295 bytes"},
		{"frame cut short", []byte{1, 0, 0, 0, 10, 'a', 'b'}, "read from the daemon"},
		{"bad exit", frame(3, []byte("zero")), `the daemon sent exit "zero"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, request := fakeDaemon(t, c.reply)
			code, _, _, err := forward(t.Context(), dir, "ingest", "--json")
			if err == nil || !strings.Contains(err.Error(), c.want) || code != 1 {
				t.Errorf("exit %d, %v; want exit 1 and an error containing %q", code, err, c.want)
			}
			var req control.Request
			if err := json.Unmarshal([]byte(<-request), &req); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"ingest", "--json"}, req.Args); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServeStops: Serve returns once its context ends, after the commands
// running finish, and the socket no longer answers.
func TestServeStops(t *testing.T) {
	dir := t.TempDir()
	l, err := control.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- control.Serve(ctx, l, func(context.Context, []string, io.Writer, io.Writer) int {
			close(started)
			<-release
			return 0
		})
	}()
	client := make(chan int, 1)
	go func() {
		code, _, _, _ := forward(context.Background(), dir, "slow")
		client <- code
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) while a command still ran", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := waitFor(t, done, nil, "Serve's return"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if code := waitFor(t, client, 0, "the running command's exit"); code != 0 {
		t.Errorf("the running command exited %d, want 0", code)
	}
	if _, err := control.Dial(dir); !errors.Is(err, control.ErrNoDaemon) {
		t.Errorf("dial after Serve stopped: %v, want ErrNoDaemon", err)
	}
}

// TestServeStopsWithSilentClient: a client that connects and sends no
// request does not hold up Serve's stop.
func TestServeStopsWithSilentClient(t *testing.T) {
	dir := t.TempDir()
	l, err := control.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- control.Serve(ctx, l, func(context.Context, []string, io.Writer, io.Writer) int { return 0 })
	}()
	c, err := control.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(`{"args":["ingest"`)); err != nil { // no end of line
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the daemon start reading
	cancel()
	if err := waitFor(t, done, nil, "Serve's return"); err != nil {
		t.Errorf("Serve: %v", err)
	}
}
