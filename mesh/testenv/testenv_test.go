package testenv_test

import (
	"testing"

	"cpis/mesh/testenv"
)

func TestRequired(t *testing.T) {
	cases := []struct {
		env, tool string
		want      bool
	}{
		{"", "sshd", false},
		{"sshd,sftp", "sshd", true},
		{"sshd, sftp", "sftp", true},
		{"sshd,sftp", "openpyxl", false},
		{"all", "chromium", true},
		{"SSHD", "sshd", true},
		{"sshd2", "sshd", false},
	}
	for _, c := range cases {
		t.Run(c.env+"/"+c.tool, func(t *testing.T) {
			t.Setenv(testenv.EnvRequire, c.env)
			if got := testenv.Required(c.tool); got != c.want {
				t.Errorf("Required(%q) with %q = %v, want %v", c.tool, c.env, got, c.want)
			}
		})
	}
}
