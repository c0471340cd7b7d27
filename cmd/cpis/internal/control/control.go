// Package control is the daemon's local control socket: while `cpis serve`
// holds the store (bbolt allows one process), other cpis commands send
// their command line over <data dir>/cpis.sock and the daemon runs them
// in-process against its open store, streaming their output back.
//
// The socket is created owner-only (0600) in the data dir. The protocol is
// one JSON request line from the client, then frames from the server: one
// byte naming the stream (stdout, stderr, or exit), four bytes of length
// (big-endian), and the bytes. The exit frame carries the exit code as
// decimal text and ends the conversation. A client that goes away cancels
// the command.
package control

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// SocketName is the control socket's name inside the data dir.
const SocketName = "cpis.sock"

// Frame kinds.
const (
	frameStdout byte = 1
	frameStderr byte = 2
	frameExit   byte = 3
)

const maxRequest = 1 << 20

// requestTimeout bounds how long a client may take to send its request.
const requestTimeout = 30 * time.Second

// Request is what a client sends: the command line to run.
type Request struct {
	Args []string `json:"args"`
}

// Runner runs one command line with its output going to stdout and stderr
// and returns its exit code.
type Runner func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Path returns the socket path of a data dir.
func Path(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Listen creates the control socket, owner-only. A stale socket left by a
// daemon that died is replaced; a live one means another daemon runs.
func Listen(dataDir string) (net.Listener, error) {
	path := Path(dataDir)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another cpis daemon is running", path)
	}
	_ = os.Remove(path)
	old := umask(0o177)
	l, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return l, nil
}

// Serve answers clients on l until ctx ends, running each command with run.
func Serve(ctx context.Context, l net.Listener, run Runner) error {
	var wg sync.WaitGroup
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(ctx, c, run)
		}()
	}
}

func serveConn(ctx context.Context, c net.Conn, run Runner) {
	defer c.Close()
	// A client that never finishes its request must not hold up the
	// daemon's stop, nor a goroutine for ever.
	_ = c.SetReadDeadline(time.Now().Add(requestTimeout))
	stop := context.AfterFunc(ctx, func() { c.Close() })
	var req Request
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	if !stop() || err != nil || json.Unmarshal(line, &req) != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The client sends nothing more: a read that returns means it went away.
	go func() {
		var b [1]byte
		_, _ = c.Read(b[:])
		cancel()
	}()
	w := &frameWriter{c: c}
	code := run(ctx, req.Args, w.stream(frameStdout), w.stream(frameStderr))
	_ = w.write(frameExit, []byte(strconv.Itoa(code)))
}

type frameWriter struct {
	mu  sync.Mutex
	c   net.Conn
	err error
}

func (w *frameWriter) write(kind byte, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := w.c.Write(hdr[:]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.c.Write(p); err != nil {
		w.err = err
		return err
	}
	return nil
}

type streamWriter struct {
	w    *frameWriter
	kind byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += 1 << 20 {
		end := min(off+1<<20, len(p))
		if err := s.w.write(s.kind, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

func (w *frameWriter) stream(kind byte) io.Writer { return streamWriter{w: w, kind: kind} }

// ErrNoDaemon means no daemon answers on the data dir's socket.
var ErrNoDaemon = errors.New("no cpis daemon is running")

// Dial connects to the daemon of dataDir, or returns ErrNoDaemon.
func Dial(dataDir string) (net.Conn, error) {
	c, err := net.DialTimeout("unix", Path(dataDir), 2*time.Second)
	if err != nil {
		return nil, ErrNoDaemon
	}
	return c, nil
}

// Forward runs args in the daemon on c, copying its output to stdout and
// stderr, and returns its exit code. Cancelling ctx ends the command.
func Forward(ctx context.Context, c net.Conn, args []string, stdout, stderr io.Writer) (int, error) {
	defer c.Close()
	req, _ := json.Marshal(Request{Args: args})
	if _, err := c.Write(append(req, '\n')); err != nil {
		return 1, fmt.Errorf("send to the daemon: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return 1, ctx.Err()
			}
			return 1, fmt.Errorf("the daemon closed the connection before the command ended: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > 16<<20 {
			return 1, fmt.Errorf("the daemon sent a frame of %d bytes", n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return 1, fmt.Errorf("read from the daemon: %w", err)
		}
		switch hdr[0] {
		case frameStdout:
			_, _ = stdout.Write(buf)
		case frameStderr:
			_, _ = stderr.Write(buf)
		case frameExit:
			code, err := strconv.Atoi(string(buf))
			if err != nil {
				return 1, fmt.Errorf("the daemon sent exit %q", buf)
			}
			return code, nil
		}
	}
}
