package runner

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
)

func testProgram(t *testing.T, ran *bool) Program {
	never := func(context.Context, *invocation.Invoker, string) (any, error) {
		t.Error("the invocation ran")
		return nil, nil
	}
	return Program{Name: "mirror", Summary: "copies records.", Invoke: never, Commands: []Command{{
		Name: "adopt", Summary: "takes over from MirrorMaker 2. More.",
		Flags: func(fs *flag.FlagSet) { fs.Bool("apply", false, "commit the positions found") },
		Run: func(context.Context, config.Settings, *config.Config, *slog.Logger) (any, error) {
			*ran = true
			return nil, nil
		},
	}}}
}

// The command line is handled before the settings are read: help and
// version exit 0, anything unknown exits 2, and neither runs anything.
func TestCommandLine(t *testing.T) {
	t.Setenv("MIRROR_PROPERTIES_FILE", "")
	t.Setenv("MIRROR_PROPERTIES", "")
	for _, c := range []struct {
		args       []string
		code       int
		exit       bool
		out, err   string
		allSetting bool
	}{
		{nil, 0, false, "", "", false},
		{[]string{"-h"}, 0, true, "mirror adopt [flags]", "", true},
		{[]string{"--help"}, 0, true, "mirror -version", "", true},
		{[]string{"-help"}, 0, true, "Settings (environment variables)", "", true},
		{[]string{"-version"}, 0, true, "mirror devel (commit ", "", false},
		{[]string{"--version"}, 0, true, "mirror devel", "", false},
		{[]string{"foo"}, 2, true, "", `unknown command "foo" (commands: adopt)`, false},
		{[]string{"-bogus"}, 2, true, "", "flag provided but not defined: -bogus", false},
		{[]string{"-version", "x"}, 2, true, "", `unexpected argument "x"`, false},
		{[]string{"adopt", "-h"}, 0, true, "-apply", "", true},
		{[]string{"adopt", "--help"}, 0, true, "mirror adopt: takes over from MirrorMaker 2", "", true},
		{[]string{"adopt", "-apply", "x"}, 2, true, "", `mirror adopt: unexpected argument "x"`, false},
		{[]string{"adopt", "-bogus"}, 2, true, "", "mirror adopt: flag provided but not defined: -bogus", false},
		// Past the command line, the settings are read: none set is bad input.
		{[]string{"adopt"}, 2, true, "", "MIRROR_PROPERTIES_FILE is not set", false},
	} {
		var ran bool
		var out, errb bytes.Buffer
		code, exit := testProgram(t, &ran).commandLine(c.args, &out, &errb)
		if code != c.code || exit != c.exit {
			t.Errorf("%q: code %d, exit %v; want %d, %v (stderr %q)", c.args, code, exit, c.code, c.exit, errb.String())
		}
		if ran {
			t.Errorf("%q: the command ran", c.args)
		}
		if !strings.Contains(out.String(), c.out) || (c.out == "" && out.Len() > 0) {
			t.Errorf("%q: stdout %q, want it to contain %q", c.args, out.String(), c.out)
		}
		if !strings.Contains(errb.String(), c.err) || (c.err == "" && errb.Len() > 0) {
			t.Errorf("%q: stderr %q, want it to contain %q", c.args, errb.String(), c.err)
		}
		if c.allSetting {
			for _, s := range config.Describe() {
				if !strings.Contains(out.String(), s.Name+" ") || !strings.Contains(out.String(), s.Desc) {
					t.Errorf("%q: help does not describe %s", c.args, s.Name)
				}
			}
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aaa bbb ccc   ddd", 7)
	if want := "aaa bbb\nccc ddd"; got != want {
		t.Errorf("wrap: %q, want %q", got, want)
	}
}
