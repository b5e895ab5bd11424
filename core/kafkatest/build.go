package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Module is the import path of the module the functions ship from.
const Module = "github.com/mirrorless/mirrorless"

// Functions are the programs under functions/.
var Functions = []string{"mirror", "reconcile", "checkpoint"}

// ModuleRoot returns the directory of the mirrorless module, asked of the
// go command so it answers from the module's own tree and from a module
// that requires it (the benchmarks, whose go.mod replaces it with ../..).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", Module).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("find module %s (run from the mirrorless repository): %v", Module, err)
	}
	return dir, nil
}

// Build compiles the package at pkg, a path inside the mirrorless module
// ("functions/mirror"), into the file out. It builds in the module's own
// directory with its go.mod, so the binary is the one that ships whichever
// module the caller runs in. With lambda set it builds as for
// provided.al2023 (-tags lambda.norpc, -trimpath, no cgo, linux) for this
// machine's architecture, so the Lambda emulator can run it here. The go
// command's output is returned in the error.
func Build(ctx context.Context, out, pkg string, lambda bool) error {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if lambda {
		args = append(args, "-tags", "lambda.norpc", "-trimpath")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./"+strings.TrimPrefix(pkg, "./"))...)
	cmd.Dir = root
	if lambda {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./%s: %v\n%s", pkg, err, msg)
	}
	return nil
}

// BuildFunctions builds each function program into dir: dir/<name>, or
// dir/<name>/bootstrap with lambda set (see Build).
func BuildFunctions(ctx context.Context, dir string, lambda bool, names ...string) error {
	for _, n := range names {
		out := filepath.Join(dir, n)
		if lambda {
			out = filepath.Join(out, "bootstrap")
		}
		if err := Build(ctx, out, "functions/"+n, lambda); err != nil {
			return err
		}
	}
	return nil
}

// MainWithFunctions is the TestMain of a suite that drives the built
// programs: it builds the three functions into a new temporary directory,
// sets *dir to it, runs the tests, removes the directory and returns the
// exit code for os.Exit. A build that fails is reported and exits 1.
func MainWithFunctions(m *testing.M, dir *string) int {
	d, err := os.MkdirTemp("", "mirrorless-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(d)
	if err := BuildFunctions(context.Background(), d, false, Functions...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*dir = d
	return m.Run()
}
