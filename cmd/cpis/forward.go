package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"cpis/batch/jobs"
	"cpis/cmd/cpis/internal/control"
	"cpis/mesh/sftpd"
	"cpis/store"
)

// Annotations on commands and flags that say how a command behaves while
// a daemon holds the store.
const (
	// annLocal: the command never needs the store; it always runs here.
	annLocal = "cpis.local"
	// annNoDaemon: the command makes no sense while the daemon runs.
	annNoDaemon = "cpis.no-daemon"
	// annPathArgs: positional arguments are file paths (made absolute
	// before the command is sent to the daemon).
	annPathArgs = "cpis.path-args"
	// annPath on a flag: its value is a file path.
	annPath = "cpis.path"
	// annBatch: the command changes mailboxes or the store in bulk; inside
	// the daemon it waits for the running job to finish.
	annBatch = "cpis.batch"
)

// forwardedExit is the exit code of a command the daemon ran.
type forwardedExit int

func (e forwardedExit) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// daemonContext is what a command run inside the daemon shares with it.
type daemonContext struct {
	db *store.DB
	// jobs serialises batch work: scheduled jobs and batch commands.
	jobs *jobs.Lock
	// sftp is the daemon's SFTP server, nil with --no-sftp.
	sftp atomic.Pointer[sftpd.Server]
}

// forwardToDaemon sends the command to the daemon of the data dir when
// one runs, and reports its exit code as the command's result.
func forwardToDaemon(cmd *cobra.Command, g *globals) error {
	if g.daemon != nil {
		if inherited(cmd, annBatch) {
			release, err := g.daemon.jobs.Acquire(cmd.Context(), "`"+cmd.CommandPath()+"` command", func(holder string) {
				fmt.Fprintf(g.stderr, "waiting for the running %s to finish...\n", holder)
			})
			if err != nil {
				return fmt.Errorf("waiting for the running batch work: %w", err)
			}
			g.release = release
		}
		return nil
	}
	if inherited(cmd, annLocal) || cmd.Name() == "help" || cmd.Name() == "completion" {
		return nil
	}
	c, err := control.Dial(g.data)
	if errors.Is(err, control.ErrNoDaemon) {
		return nil
	}
	if inherited(cmd, annNoDaemon) {
		c.Close()
		return fmt.Errorf("`cpis %s` cannot run while the daemon (`cpis serve`) holds the store in %s: stop it first", cmd.Name(), g.data)
	}
	args, err := absoluteArgs(cmd, g.args)
	if err != nil {
		c.Close()
		return err
	}
	code, err := control.Forward(cmd.Context(), c, args, g.stdout, g.stderr)
	if err != nil {
		return err
	}
	return forwardedExit(code)
}

func inherited(cmd *cobra.Command, ann string) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[ann] == "true" {
			return true
		}
	}
	return false
}

// absoluteArgs rewrites the command line so that file paths given
// relative to this process's directory mean the same in the daemon.
func absoluteArgs(cmd *cobra.Command, raw []string) ([]string, error) {
	out := append([]string(nil), raw...)
	abs := func(p string) (string, error) {
		if p == "" || p == "-" || filepath.IsAbs(p) {
			return p, nil
		}
		return filepath.Abs(p)
	}
	pathFlag := func(name string) bool {
		f := cmd.Flags().Lookup(name)
		return f != nil && len(f.Annotations[annPath]) > 0
	}
	positional := map[string]bool{}
	if cmd.Annotations[annPathArgs] == "true" {
		for _, a := range cmd.Flags().Args() {
			positional[a] = true
		}
	}
	for i := 0; i < len(out); i++ {
		tok := out[i]
		if name, val, ok := strings.Cut(strings.TrimLeft(tok, "-"), "="); strings.HasPrefix(tok, "--") && ok {
			if pathFlag(name) {
				v, err := abs(val)
				if err != nil {
					return nil, err
				}
				out[i] = "--" + name + "=" + v
			}
			continue
		}
		if strings.HasPrefix(tok, "--") && pathFlag(strings.TrimPrefix(tok, "--")) && i+1 < len(out) {
			v, err := abs(out[i+1])
			if err != nil {
				return nil, err
			}
			out[i+1] = v
			i++
			continue
		}
		if positional[tok] {
			v, err := abs(tok)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
	}
	return out, nil
}

// markPath annotates flag name of cmd as a file path.
func markPath(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil {
			if f.Annotations == nil {
				f.Annotations = map[string][]string{}
			}
			f.Annotations[annPath] = []string{"true"}
		}
	}
}
