package runner

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/mirrorless/mirrorless/core/config"
)

// Program is a function program as its command line sees it: what one
// invocation does, and the operator commands it also runs outside Lambda.
type Program struct {
	Name    string
	Summary string // what one invocation does, for -h
	Invoke  Invoke
	// Commands are subcommands (`mirror adopt`): outside Lambda only.
	Commands []Command
	// Progress, if set, draws the invocation's progress when it runs
	// outside Lambda with stderr a terminal.
	Progress Progress
	// Print, if set, writes the invocation's summary for people on
	// stderr, outside Lambda (stdout keeps the JSON line).
	Print func(w io.Writer, summary any)
}

// Command is an operator command (`mirror adopt`, `checkpoint failover`),
// run by Tool.
type Command struct {
	Name    string
	Summary string // what it does, for -h
	Flags   func(*flag.FlagSet)
	Run     ToolFunc
	// Progress and Print as in Program.
	Progress Progress
	Print    func(w io.Writer, result any)
}

// version and commit are set by `make build` (-ldflags "-X
// github.com/mirrorless/mirrorless/functions/internal/runner.version=...");
// commit is the fallback for builds Go could not stamp with vcs.revision
// (-buildvcs=false, git worktrees).
var version, commit string

// commandLine handles what the arguments ask before anything else runs:
// -h/--help and -version print and exit 0, an unknown flag, argument or
// subcommand exits 2, a subcommand runs (Tool). None of these reads the
// settings or contacts a cluster. exit is false when the arguments ask for
// the program's invocation (Lambda passes none).
func (p Program) commandLine(args []string, stdout, stderr io.Writer) (code int, exit bool) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		for _, c := range p.Commands {
			if c.Name == args[0] {
				return tool(p.Name, c, args[1:], stdout, stderr), true
			}
		}
		if len(p.Commands) == 0 {
			return usageError(stderr, p.Name, p.Name, fmt.Errorf("unexpected argument %q: %s takes no command", args[0], p.Name)), true
		}
		return usageError(stderr, p.Name, p.Name, fmt.Errorf("unknown command %q (commands: %s)", args[0], strings.Join(p.commandNames(), ", "))), true
	}
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	showVersion := fs.Bool("version", false, "print the version and commit, and exit")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		p.usage(stdout, fs)
		return 0, true
	case err != nil:
		return usageError(stderr, p.Name, p.Name, err), true
	case fs.NArg() > 0:
		return usageError(stderr, p.Name, p.Name, fmt.Errorf("unexpected argument %q", fs.Arg(0))), true
	case *showVersion:
		fmt.Fprintln(stdout, Version(p.Name))
		return 0, true
	}
	return 0, false
}

func (p Program) commandNames() []string {
	var names []string
	for _, c := range p.Commands {
		names = append(names, c.Name)
	}
	return names
}

// usageError reports bad arguments: exit 2, nothing run.
func usageError(stderr io.Writer, name, help string, err error) int {
	fmt.Fprintf(stderr, "%s: %v (%s -h lists the flags and settings)\n", name, err, help)
	return 2
}

func (p Program) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n", wrap(p.Name+": "+p.Summary, 100))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\tone invocation (outside Lambda), or the Lambda handler (AWS_LAMBDA_RUNTIME_API set)\n", p.Name)
	for _, c := range p.Commands {
		fmt.Fprintf(tw, "  %s %s [flags]\t%s (%s %s -h for more)\n", p.Name, c.Name, firstSentence(c.Summary), p.Name, c.Name)
	}
	fmt.Fprintf(tw, "  %s -version\tprint the version and commit\n", p.Name)
	fmt.Fprintf(tw, "  %s -h\tthis help\n", p.Name)
	tw.Flush()
	fmt.Fprintf(w, "\nOutside Lambda one invocation runs and the program exits: 0 done, 1 failed, 2 bad input\n"+
		"(nothing written to any cluster). stdout has one JSON summary line; logs are JSON lines on\n"+
		"stderr; when stderr is a terminal, progress is shown there too.\n")
	writeSettings(w)
}

func (c Command) usage(w io.Writer, prog string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  %s %s [flags]\n\nFlags:\n", wrap(prog+" "+c.Name+": "+c.Summary, 100), prog, c.Name)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, use := flag.UnquoteUsage(f)
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  -%s %s\t%s%s\n", f.Name, name, use, def)
	})
	fmt.Fprintf(tw, "  -h\tthis help\n")
	tw.Flush()
	fmt.Fprintf(w, "\nExit: 0 done, 1 failed, 2 bad input. stdout has one JSON line; a table for people on stderr.\n")
	writeSettings(w)
}

// writeSettings lists every setting from its own description
// (config.Describe) and the other variables the programs read.
func writeSettings(w io.Writer) {
	fmt.Fprintf(w, "\nSettings (environment variables):\n")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, s := range config.Describe() {
		def := ""
		if s.Default != "" {
			def = " (default " + s.Default + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", s.Name, s.Desc, def)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nAlso read:\n")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, e := range [][2]string{
		{"AWS_LAMBDA_RUNTIME_API", "set by Lambda: run as a Lambda function instead of once"},
		{"GOMEMLIMIT", "the Go heap's soft limit, at least 16MiB (in Lambda, default: 85% of the function's memory)"},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "set by Lambda: the function's memory in MB, for the default GOMEMLIMIT"},
		{"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN", "credentials for sasl.mechanism=AWS_MSK_IAM, and in Lambda for the mirror's fan-out"},
		{"AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION, AWS_REGION", "set by Lambda: the function, version and region the mirror's tick invokes for its workers"},
		{"AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL", "mirror in Lambda: another endpoint for the Lambda API (tests point it at the emulator)"},
		{"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "in Lambda: the port of the extension that resolves ${secretsmanager:...} placeholders"},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", e[0], e[1])
	}
	tw.Flush()
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		switch {
		case i == 0:
		case n+1+len(word) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i]
	}
	return strings.TrimSuffix(s, ".")
}

// Version is the program's name, version and commit: the version set at
// build time (make build), else the module version Go stamped, and the
// commit Go stamped from git (vcs.revision, with +dirty for a modified
// tree), else the one make build set.
func Version(name string) string {
	v, rev, dirty := version, commit, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "+dirty"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("%s %s (commit %s%s, %s %s/%s)", name, v, rev, dirty, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
