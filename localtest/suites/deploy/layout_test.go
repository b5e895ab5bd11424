package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's layout section names every part of the tree a newcomer
// looks for: each top-level folder, each folder of localtest/ down to its
// programs, suites and benchmarks, each core/ package and each functions/
// program. It is a code block with one path at the start of each line;
// this test fails when a folder is missing from it or a path in it no
// longer exists, so the section cannot drift from the tree.
func TestReadmeLayoutMatchesTree(t *testing.T) {
	listed := readmeLayout(t)
	var want []string
	for _, d := range subdirs(t, ".") {
		want = append(want, d)
		switch d {
		case "core", "functions":
			want = append(want, subdirs(t, d)...)
		case "localtest":
			for _, kind := range subdirs(t, d) {
				want = append(want, kind)
				want = append(want, subdirs(t, kind)...)
			}
		}
	}
	if !contains(want, "core/mirror") || !contains(want, "functions/mirror") || !contains(want, "localtest/suites") {
		t.Fatalf("the tree walk found %v, which lacks folders that exist: a broken walk would pass anything", want)
	}
	for _, d := range want {
		if !listed[d] {
			t.Errorf("README.md's layout section does not list %s/ (one path at the start of a line of its code block)", d)
		}
	}
	for p := range listed {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("README.md's layout section lists %s, which does not exist: %v", p, err)
		}
	}
}

// readmeLayout returns the paths that start the lines of the code block
// under "## Layout" in README.md, without a trailing slash.
func readmeLayout(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	section, block := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section, block = line == "## Layout", false
		case section && strings.HasPrefix(line, "```"):
			block = !block
		case section && block && line != "" && line[0] != ' ':
			// An indented line continues the one before.
			if fields := strings.Fields(line); len(fields) > 0 {
				listed[strings.TrimSuffix(fields[0], "/")] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(listed) == 0 {
		t.Fatal("README.md has no code block under \"## Layout\"")
	}
	return listed
}

// subdirs lists the folders in dir (relative to the repository root) that
// the repository holds: not hidden, not testdata, not a build output that
// .gitignore anchors at the root (/dist/, /bin/).
func subdirs(t *testing.T, dir string) []string {
	t.Helper()
	ignored := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(root, ".gitignore")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "/") && strings.HasSuffix(l, "/") {
				ignored[strings.Trim(l, "/")] = true
			}
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		p := filepath.ToSlash(filepath.Join(dir, name))
		if !e.IsDir() || strings.HasPrefix(name, ".") || name == "testdata" || ignored[p] {
			continue
		}
		out = append(out, p)
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
