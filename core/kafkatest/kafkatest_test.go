package kafkatest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Under CI=true, a real-Kafka test whose brokers do not answer fails; it
// never passes by skipping. Checked by running a test that asks for the
// pair in a child process pointed at a closed port.
func TestRealFailsUnderCI(t *testing.T) {
	if os.Getenv("KAFKATEST_CHILD") == "1" {
		Real(t)
		return
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		says     string
	}{
		{"true", true, "real Kafka pair required under CI"},
		{"", false, "SKIP"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRealFailsUnderCI$", "-test.v")
		cmd.Env = append(os.Environ(), "KAFKATEST_CHILD=1", "CI="+tc.ci, "MIRROR_TEST_A=127.0.0.1:1", "MIRROR_TEST_B=127.0.0.1:1")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail || !strings.Contains(string(out), tc.says) {
			t.Errorf("CI=%q: failed=%v, want %v, output:\n%s", tc.ci, failed, tc.wantFail, out)
		}
	}
}

// EachPair runs the body on kfake and on the real pair, and its real
// subtest fails under CI=true when the brokers do not answer, whatever the
// kfake subtest did.
func TestEachPairFailsRealUnderCI(t *testing.T) {
	if os.Getenv("KAFKATEST_CHILD") == "1" {
		EachPair(t, func(t *testing.T, p Pair) {
			if p.Real || p.A == "" || p.B == "" {
				t.Errorf("kfake subtest got pair %+v", p)
			}
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEachPairFailsRealUnderCI$", "-test.v")
	cmd.Env = append(os.Environ(), "KAFKATEST_CHILD=1", "CI=true", "MIRROR_TEST_A=127.0.0.1:1", "MIRROR_TEST_B=127.0.0.1:1")
	out, err := cmd.CombinedOutput()
	for _, want := range []string{"--- PASS: TestEachPairFailsRealUnderCI/kfake", "--- FAIL: TestEachPairFailsRealUnderCI/real", "real Kafka pair required under CI"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err == nil {
		t.Errorf("the child passed; want its real subtest failed:\n%s", out)
	}
}
