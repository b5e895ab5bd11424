package runner

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestMemoryLimitFromLambda(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		env       map[string]string
		want      int64
		wantErr   string
		wantNoted string
	}{
		{name: "outside Lambda", env: nil, want: 0, wantNoted: "not in Lambda"},
		{name: "256 MB function", env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, want: 228170137, wantNoted: "85% of AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 MB"},
		{name: "1769 MB function", env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": " 1769 "}, want: 1576691302},
		{name: "user's GOMEMLIMIT wins", env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "GOMEMLIMIT": "100MiB"}, want: 0, wantNoted: "GOMEMLIMIT=100MiB"},
		{name: "GOMEMLIMIT off", env: map[string]string{"GOMEMLIMIT": "off"}, want: 0, wantNoted: "GOMEMLIMIT=off"},
		{name: "GOMEMLIMIT in bytes", env: map[string]string{"GOMEMLIMIT": "209715200"}, want: 0, wantNoted: "GOMEMLIMIT=209715200"},
		{name: "GOMEMLIMIT too small", env: map[string]string{"GOMEMLIMIT": "1KiB"}, wantErr: `GOMEMLIMIT="1KiB" is below 16 MiB`},
		{name: "GOMEMLIMIT malformed", env: map[string]string{"GOMEMLIMIT": "abc"}, wantErr: `GOMEMLIMIT="abc" is not a byte count`},
		{name: "GOMEMLIMIT negative", env: map[string]string{"GOMEMLIMIT": "-1"}, wantErr: "is not a byte count"},
		{name: "not a number", env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, wantErr: `AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "lots"`},
		{name: "zero", env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "0"}, wantErr: "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, noted, err := memoryLimit(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("limit = %d, want %d", got, tc.want)
			}
			if !strings.Contains(noted, tc.wantNoted) {
				t.Errorf("reason = %q, want it to contain %q", noted, tc.wantNoted)
			}
		})
	}
}

// TestApplyMemoryLimit checks that the limit reaches the runtime.
func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
	limit, _, err := applyMemoryLimit()
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != limit || limit != 456340275 {
		t.Fatalf("runtime limit %d, returned %d, want 85%% of 512 MiB", got, limit)
	}
}
