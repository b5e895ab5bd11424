package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOperationsListsEveryMetric: every metric name core/metrics defines
// (the string constants of summary.go) has a row in docs/operations.md's
// metric table, so a metric added to the code cannot be missing from the
// contract people build dashboards and alarms on.
func TestOperationsListsEveryMetric(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "core", "metrics", "summary.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					names = append(names, s)
				}
			}
		}
		return true
	})
	if len(names) < 20 {
		t.Fatalf("found %d metric names in core/metrics/summary.go: a broken reader would pass anything", len(names))
	}
	raw, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	table := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "| metric | unit | dimensions |"):
			table = true
		case table && strings.HasPrefix(line, "|"):
			rows = append(rows, strings.Split(line, "|")[1])
		case table:
			table = false
		}
	}
	for _, n := range names {
		found := false
		for _, r := range rows {
			if strings.Contains(r, "`"+n+"`") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/operations.md's metric table has no row for %s (core/metrics/summary.go)", n)
		}
	}
}
