package aci

import (
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
	bad := []string{
		"", "1K", "-1", "1 G", " 1", "1GG", "1g", "1Kib", "1KI", "m", "Gi", ".", "1.2.3",
		"1e", "1e+", "1e1000", "8Ei", "10E", "abc", "0x10", "1,5", "1_000", "1e3Gi",
		"1000000000000000000000000000000000000000000000000000000000000000000",
	}
	for _, s := range bad {
		if got, err := ParseQuantity(s, 1); err == nil {
			t.Errorf("ParseQuantity(%q) = %d, want error", s, got)
		}
	}
	if _, err := ParseQuantity("9223372036854775807m", 1000); err != nil {
		t.Errorf("max int64 millicores: %v", err)
	}
	if _, err := ParseQuantity("9223372036854775808m", 1000); err == nil {
		t.Error("max int64 + 1 millicores accepted")
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
