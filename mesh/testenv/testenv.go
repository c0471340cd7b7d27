// Package testenv decides what a test does when an external tool it drives
// for real (the OpenSSH client and server, Python's openpyxl, a tmpfs mount,
// sqlite3, Chromium) is missing here: a developer without the tool gets a
// skip, but a run that names the tool in CPIS_TEST_REQUIRE (as CI does, after
// installing it) fails instead, so a test never silently stops running.
//
// It sits at the bottom of the tree, importing nothing of the hub, so tests
// at every level can use it.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// EnvRequire is the variable listing the tools a run requires, separated by
// commas ("sshd,sftp,openpyxl,tmpfs"), or "all".
const EnvRequire = "CPIS_TEST_REQUIRE"

// The tools tests may require.
const (
	SSHD     = "sshd"     // OpenSSH server (/usr/sbin/sshd)
	SFTP     = "sftp"     // OpenSSH sftp client
	SSH      = "ssh"      // OpenSSH client tools (ssh-keygen)
	Openpyxl = "openpyxl" // python3 with openpyxl
	Tmpfs    = "tmpfs"    // permission to mount a small tmpfs (disk-full cases)
	SQLite3  = "sqlite3"  // the sqlite3 command
	Chromium = "chromium" // headless Chromium
)

// Required reports whether the run requires tool (CPIS_TEST_REQUIRE).
func Required(tool string) bool {
	for _, t := range strings.Split(os.Getenv(EnvRequire), ",") {
		t = strings.TrimSpace(t)
		if t == "all" || strings.EqualFold(t, tool) {
			return true
		}
	}
	return false
}

// Unavailable ends t because tool is missing: a failure when the run
// requires tool, a skip otherwise. why says what was found (or not) and
// how to install it.
func Unavailable(t testing.TB, tool, why string) {
	t.Helper()
	if Required(tool) {
		t.Fatalf("%s is required by %s=%q but unavailable: %s", tool, EnvRequire, os.Getenv(EnvRequire), why)
	}
	t.Skipf("%s unavailable (%s); set %s=%s to make this a failure", tool, why, EnvRequire, tool)
}

// LookPath returns the path of the command name, or ends t as Unavailable
// for tool when it is not on PATH (an absolute name is checked as is).
func LookPath(t testing.TB, tool, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, tool, err.Error())
	}
	return p
}

// OpenpyxlPython returns a Python 3 that has openpyxl: python3 on PATH,
// else the system's /usr/bin/python3 (a version manager's python3 often
// lacks the distribution's packages). Without one the test is Unavailable
// for openpyxl, with why (what the test does with it) in the message:
// skipped for a developer, failed where CI requires it.
func OpenpyxlPython(t testing.TB, why string) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(name)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		out, err := exec.Command(p, "-c", "import openpyxl").CombinedOutput()
		if err == nil {
			return p
		}
		tried = append(tried, fmt.Sprintf("%s -c 'import openpyxl': %v: %s", p, err, bytes.TrimSpace(out)))
	}
	Unavailable(t, Openpyxl, why+", python3 with openpyxl "+
		"(Debian: apt-get install python3-openpyxl; .ci/run installs it): "+strings.Join(tried, "; "))
	return ""
}
