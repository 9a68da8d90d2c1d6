package podcontract

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseStopSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal // 0: refused
	}{
		{"SIGQUIT", unix.SIGQUIT},
		{"QUIT", unix.SIGQUIT},
		{"sigint", unix.SIGINT},
		{"SigHup", unix.SIGHUP},
		{"SIGTERM", unix.SIGTERM},
		{"SIGKILL", unix.SIGKILL},
		{"SIGRTMIN", 0}, // not a name x/sys knows: a number works
		{"3", unix.SIGQUIT},
		{"64", 64},
		{"1", unix.SIGHUP},
		{"0", 0},
		{"65", 0},
		{"-9", 0},
		{"", 0},
		{"SIG", 0},
		{"SIGNOPE", 0},
		{" SIGQUIT", 0},
		{"3.0", 0},
	} {
		got, err := ParseStopSignal(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("ParseStopSignal(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseStopSignal(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseStopSignal(f *testing.F) {
	for _, s := range []string{"SIGQUIT", "quit", "9", "0", "65", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseStopSignal(s)
		if err == nil && (sig < 1 || sig > maxSignal) {
			t.Fatalf("ParseStopSignal(%q) = %d, out of range", s, sig)
		}
	})
}
