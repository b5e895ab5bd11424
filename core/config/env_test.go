package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Describe names exactly the variables envconfig reads, each with a
// description: the programs' -h lists every setting from it.
func TestDescribeEverySetting(t *testing.T) {
	var keys bytes.Buffer
	if err := envconfig.Usagef("MIRROR", &Settings{}, &keys, "{{range .}}{{.Key}}\n{{end}}"); err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(keys.String())
	got := Describe()
	if len(got) != len(want) {
		t.Fatalf("Describe has %d settings, envconfig reads %d: %v", len(got), len(want), want)
	}
	for i, s := range got {
		if s.Name != want[i] {
			t.Errorf("setting %d: Describe says %s, envconfig reads %s", i, s.Name, want[i])
		}
		if strings.TrimSpace(s.Desc) == "" {
			t.Errorf("%s has no desc tag", s.Name)
		}
	}
}

func TestMetricsSetting(t *testing.T) {
	for _, c := range []struct {
		value string
		ok    bool
	}{{"", true}, {"emf", true}, {" EMF ", true}, {"off", true}, {"cloudwatch", false}} {
		t.Setenv("MIRROR_PROPERTIES_FILE", "x.properties")
		t.Setenv("MIRROR_METRICS", c.value)
		_, err := LoadSettings()
		if (err == nil) != c.ok {
			t.Errorf("MIRROR_METRICS=%q: %v", c.value, err)
		}
		if err != nil && !strings.Contains(err.Error(), "MIRROR_METRICS") {
			t.Errorf("MIRROR_METRICS=%q: the error does not name the variable: %v", c.value, err)
		}
	}
}

func TestDeploymentSetting(t *testing.T) {
	t.Setenv("MIRROR_PROPERTIES_FILE", "x.properties")
	s, err := LoadSettings()
	if err != nil || s.Deployment != "mirrorless" {
		t.Fatalf("default deployment %q, %v", s.Deployment, err)
	}
	for _, c := range []struct {
		value string
		ok    bool
	}{{"mirror-eu-1", true}, {"A->B pair", true}, {" spaced", false}, {"tab\there", false}, {strings.Repeat("x", 1025), false}} {
		t.Setenv("MIRROR_DEPLOYMENT", c.value)
		_, err := LoadSettings()
		if (err == nil) != c.ok {
			t.Errorf("MIRROR_DEPLOYMENT=%q: %v", c.value, err)
		}
		if err != nil && !strings.Contains(err.Error(), "MIRROR_DEPLOYMENT") {
			t.Errorf("MIRROR_DEPLOYMENT=%q: the error does not name the variable: %v", c.value, err)
		}
	}
}

// MIRROR_SCHEDULE_INTERVAL takes a duration or the template's schedule
// expression as it is: rate(...) gives its interval, cron(...) none.
func TestScheduleInterval(t *testing.T) {
	for _, c := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, true},
		{"1m", time.Minute, true},
		{"90s", 90 * time.Second, true},
		{"rate(1 minute)", time.Minute, true},
		{"rate(5 minutes)", 5 * time.Minute, true},
		{"rate(2 hours)", 2 * time.Hour, true},
		{"rate(1 day)", 24 * time.Hour, true},
		{"cron(0/5 * * * ? *)", 0, true},
		{"rate(0 minutes)", 0, false},
		{"rate(1 second)", 0, false},
		{"rate(minute)", 0, false},
		{"0s", 0, false},
		{"often", 0, false},
	} {
		got, err := Settings{ScheduleInterval: c.value}.Interval()
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("Interval(%q) = %s, %v; want %s, ok %v", c.value, got, err, c.want, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "MIRROR_SCHEDULE_INTERVAL") {
			t.Errorf("Interval(%q): the error does not name the variable: %v", c.value, err)
		}
	}
}

// TestSelectFlows: MIRROR_FLOWS picks enabled flows; a flow that is not
// enabled, a name that is not a flow and a flow named twice (which would
// run two copies side by side, fencing each other) are refused with what
// to do.
func TestSelectFlows(t *testing.T) {
	props, err := ParseProperties(strings.NewReader("clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(props)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flows   []string
		want    int
		wantErr string
	}{
		{nil, 1, ""},
		{[]string{" A->B "}, 1, ""},
		{[]string{"B->A"}, 0, `MIRROR_FLOWS names "B->A", which is not an enabled flow (enabled: A->B): name one of those, or enable it in the properties file (B->A.enabled = true)`},
		{[]string{"A-B"}, 0, "write a flow as source->target"},
		{[]string{"A->B", "A->B"}, 0, `MIRROR_FLOWS names "A->B" twice`},
	} {
		got, err := Settings{Flows: tc.flows}.SelectFlows(cfg)
		switch {
		case tc.wantErr == "" && (err != nil || len(got) != tc.want):
			t.Errorf("%q: %d flows, %v; want %d", tc.flows, len(got), err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want %q", tc.flows, err, tc.wantErr)
		}
	}
}
