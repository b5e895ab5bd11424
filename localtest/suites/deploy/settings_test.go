package deploy_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
)

// TestReadmeSettingsMatchConfig: the README's settings table has a row for
// every MIRROR_* variable the programs read (config.Describe, which -h
// prints), with the default the code uses, and no row for a variable the
// code does not read, so a setting added, renamed or re-defaulted in
// core/config cannot leave the README behind.
func TestReadmeSettingsMatchConfig(t *testing.T) {
	rows := readmeSettings(t)
	settings := config.Describe()
	if len(settings) < 10 || len(rows) < 10 {
		t.Fatalf("found %d settings in core/config and %d rows in the README: a broken reader would pass anything", len(settings), len(rows))
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.Name] = true
		def, ok := rows[s.Name]
		switch {
		case !ok:
			t.Errorf("README.md's settings table has no row for %s (default %q)", s.Name, s.Default)
		case s.Default != "" && def != s.Default:
			t.Errorf("README.md gives %s the default %q; core/config's is %q", s.Name, def, s.Default)
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("README.md's settings table lists %s, which core/config does not read", name)
		}
	}
}

// readmeSettings returns the rows of the table under "### Settings
// (environment)" in README.md: each variable with its default, the first
// backquoted value of the default column ("" when it has none). A row of
// two variables (`A` / `B`) with two defaults (`1` / `2`) gives each its own.
func readmeSettings(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	quoted := regexp.MustCompile("`([^`]*)`")
	rows := map[string]string{}
	section := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			section = line == "### Settings (environment)"
			continue
		}
		if !section || !strings.HasPrefix(line, "| `MIRROR_") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			t.Fatalf("README.md settings row with fewer than three columns: %s", line)
		}
		var names, defs []string
		for _, m := range quoted.FindAllStringSubmatch(cells[1], -1) {
			names = append(names, m[1])
		}
		for _, m := range quoted.FindAllStringSubmatch(cells[2], -1) {
			defs = append(defs, m[1])
		}
		for i, n := range names {
			switch {
			case len(defs) == len(names):
				rows[n] = defs[i]
			case len(defs) > 0:
				rows[n] = defs[0]
			default:
				rows[n] = ""
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestDeployedSettingsDefaults: a template parameter passed to a function
// as a MIRROR_* variable (MIRROR_X: !Ref Param) has core/config's default
// for that variable, and infra/ passes its variable to the same function
// under the same name, so a default changed in core/config (MIRROR_MAX_UNITS
// went from 64 to 4096) cannot leave the deployments on the old one.
// Parameters whose default differs on purpose are listed with the reason.
func TestDeployedSettingsDefaults(t *testing.T) {
	p := load(t)
	// Deployment choices that differ from a program run by hand.
	differs := map[string]string{
		"MIRROR_PROPERTIES_FILE":   "the file is bundled under /var/task",
		"MIRROR_SCHEDULE_INTERVAL": "the schedule expression itself, rate(1 minute) read as 1m",
	}
	defaults := map[string]string{}
	for _, s := range config.Describe() {
		defaults[s.Name] = s.Default
	}
	params := p.Template["Parameters"].(map[string]any)
	fns, _ := locals(p)["functions"].(map[string]any)
	checked := 0
	for name, v := range p.Template["Resources"].(map[string]any) {
		r := v.(map[string]any)
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		fn := strings.ToLower(strings.TrimSuffix(name, "Function"))
		env := r["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
		tfFn, _ := fns[fn].(map[string]any)
		extra := fmt.Sprint(tfFn["extra_env"])
		for key, val := range env {
			ref, _ := val.(map[string]any)["Ref"].(string)
			param, ok := params[ref].(map[string]any)
			if !ok {
				continue // not a parameter: the stack name, a Sub
			}
			want, known := defaults[key]
			if !known {
				t.Errorf("template %s sets %s, which core/config does not read", name, key)
				continue
			}
			if _, skip := differs[key]; skip || want == "" {
				continue
			}
			checked++
			if got := normDefault(param["Default"]); got != want {
				t.Errorf("template parameter %s (%s of %s) defaults to %q; core/config's default is %q", ref, key, name, got, want)
			}
			// Variables every function gets are in the resource's environment,
			// the function's own in its extra_env.
			tfVar := "var." + snake(ref)
			common := fmt.Sprint(resources(p, "aws_lambda_function")["fn"]["environment"])
			if !strings.Contains(extra, key+":${"+tfVar+"}") && !strings.Contains(extra, key+":${tostring("+tfVar+")}") &&
				!strings.Contains(common, key+" = "+tfVar) {
				t.Errorf("infra/ does not pass %s to %s's %s (template: %s)", tfVar, fn, key, ref)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked %d parameters passed as settings: the parse is broken", checked)
	}
}
