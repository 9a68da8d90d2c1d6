package aci

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		s     string
		scale int64
		want  int64
	}{
		{"1", 1, 1},
		{"0", 1, 0},
		{"+5", 1, 5},
		{"1.5", 1000, 1500},
		{".5", 1000, 500},
		{"5.", 1, 5},
		{"20m", 1000, 20},
		{"250m", 1000, 250},
		{"1500m", 1, 2}, // rounded up
		{"0.1m", 1000, 1},
		{"100u", 1000, 1},
		{"1n", 1, 1},
		{"1k", 1, 1000},
		{"1M", 1, 1000000},
		{"1G", 1, 1000000000},
		{"4G", 1, 4000000000},
		{"1T", 1, 1000000000000},
		{"1P", 1, 1000000000000000},
		{"1E", 1, 1000000000000000000},
		{"1Ki", 1, 1024},
		{"1.5Ki", 1, 1536},
		{"1Mi", 1, 1 << 20},
		{"512Mi", 1, 512 << 20},
		{"1Gi", 1, 1 << 30},
		{"1Ti", 1, 1 << 40},
		{"1Pi", 1, 1 << 50},
		{"1Ei", 1, 1 << 60},
		{"1e3", 1, 1000},
		{"1E3", 1, 1000},
		{"1e+3", 1, 1000},
		{"5e-1", 1000, 500},
		{"2", 1000, 2000},
		{"7Ei", 1, 7 << 60},
	}
	for _, tt := range tests {
		got, err := ParseQuantity(tt.s, tt.scale)
		if err != nil || got != tt.want {
			t.Errorf("ParseQuantity(%q, %d) = %d, %v; want %d", tt.s, tt.scale, got, err, tt.want)
		}
	}
	// Each refusal names the quantity and says what is wrong with it.
	bad := []struct{ s, why string }{
		{"", "empty"}, {"1K", `unknown suffix "K"`}, {"-1", "negative"}, {"1 G", `unknown suffix " G"`},
		{" 1", "no digits"}, {"1GG", `unknown suffix "GG"`}, {"1g", `unknown suffix "g"`},
		{"1Kib", `unknown suffix "Kib"`}, {"1KI", `unknown suffix "KI"`}, {"m", "no digits"}, {"Gi", "no digits"},
		{".", "no digits"}, {"1.2.3", `unknown suffix ".3"`}, {"1e", `bad exponent "e"`}, {"1e+", `bad exponent "e+"`},
		{"1e1000", "exponent out of range"}, {"8Ei", "too large"}, {"10E", "too large"}, {"abc", "no digits"},
		{"0x10", `unknown suffix "x10"`}, {"1,5", `unknown suffix ",5"`}, {"1_000", `unknown suffix "_000"`},
		{"1e3Gi", `bad exponent "e3Gi"`},
		{"1000000000000000000000000000000000000000000000000000000000000000000", "too long"},
	}
	for _, tc := range bad {
		got, err := ParseQuantity(tc.s, 1)
		if want := fmt.Sprintf("%q is not a valid quantity: %s", tc.s, tc.why); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseQuantity(%q) = %d, %v; want an error saying %q", tc.s, got, err, want)
		}
	}
	if _, err := ParseQuantity("9223372036854775807m", 1000); err != nil {
		t.Errorf("max int64 millicores: %v", err)
	}
	if _, err := ParseQuantity("9223372036854775808m", 1000); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("max int64 + 1 millicores: %v, want too large", err)
	}
}

func TestFormatMilli(t *testing.T) {
	for m, want := range map[int64]string{0: "0", 1000: "1", 250: "250m", 1500: "1500m", 20: "20m"} {
		if got := formatMilli(m); got != want {
			t.Errorf("formatMilli(%d) = %q, want %q", m, got, want)
		}
		back, err := ParseQuantity(formatMilli(m), 1000)
		if err != nil || back != m {
			t.Errorf("ParseQuantity(formatMilli(%d)) = %d, %v", m, back, err)
		}
	}
}

// TestParseQuantityTooLarge checks that a quantity past the int64 range is
// refused where it is parsed, with an error that says so, never wrapped
// into a negative count.
func TestParseQuantityTooLarge(t *testing.T) {
	for _, tc := range []struct {
		s     string
		scale int64
	}{{"8Ei", 1}, {"9223372036854775808", 1}, {"10E", 1}, {"9224P", 1}, {"9223372036854776", 1000}, {"1e19", 1}} {
		n, err := ParseQuantity(tc.s, tc.scale)
		if err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("ParseQuantity(%q, %d) = %d, %v; want a too large error", tc.s, tc.scale, n, err)
		}
	}
}

// FuzzParseQuantity checks that an accepted quantity is never negative,
// and that scaling by 1000 never accepts what scaling by 1 would make
// smaller (the rounding is upwards).
func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"1", "500m", "64M", "1Gi", "1e9", "8Ei", "7Ei", ".5Ki", "1e-40", "+0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseQuantity(s, 1)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseQuantity(%q, 1) = %d", s, n)
		}
		m, err := ParseQuantity(s, 1000)
		if err == nil && (m < 0 || m < n) {
			t.Fatalf("ParseQuantity(%q): %d base units, %d thousandths", s, n, m)
		}
	})
}
