package aci

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// ParseQuantity parses a resource quantity as the appc spec (borrowing
// Kubernetes' syntax) writes it and returns it multiplied by scale, rounded
// up to a whole number: scale 1000 gives millicores for resource/cpu, scale
// 1 gives bytes (or bytes/s, or I/O operations/s). It is the one parser of
// quantities: the isolators of a manifest and the --memory and --cpu flags
// of a run both read them here, so that a value one accepts the other does.
//
// The syntax is a non-negative decimal number ("1", "0.5", ".5", "+2")
// followed by at most one suffix:
//   - a decimal SI suffix: n u m (10^-9, 10^-6, 10^-3), k M G T P E (10^3 … 10^18);
//   - a binary suffix: Ki Mi Gi Ti Pi Ei (2^10 … 2^60);
//   - an exponent: e or E and a signed integer ("1e3", "5E-1").
//
// "K" is not a suffix: the reference implementation rejects "1K", so does
// this one. Negative quantities and values above the int64 range are errors
// here, where they are parsed ("8Ei" is one byte too many), never a
// negative count handed on.
func ParseQuantity(s string, scale int64) (int64, error) {
	bad := func(why string) error { return fmt.Errorf("%q is not a valid quantity: %s", clip(s), why) }
	if s == "" {
		return 0, bad("empty")
	}
	if len(s) > 64 {
		return 0, bad("too long")
	}
	i := 0
	if s[0] == '+' {
		i++
	} else if s[0] == '-' {
		return 0, bad("negative")
	}
	start := i
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, bad("no digits")
	}
	num := s[start:i]
	suffix := s[i:]

	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, bad("malformed number")
	}
	mul := new(big.Rat).SetInt64(scale)
	switch suffix {
	case "":
	case "n", "u", "m", "k", "M", "G", "T", "P", "E":
		exp := map[string]int64{"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}[suffix]
		mul.Mul(mul, pow10(exp))
	case "Ki", "Mi", "Gi", "Ti", "Pi", "Ei":
		shift := map[string]uint{"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}[suffix]
		mul.Mul(mul, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), shift)))
	default:
		if suffix[0] != 'e' && suffix[0] != 'E' {
			return 0, bad(fmt.Sprintf("unknown suffix %q (want one of n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent)", suffix))
		}
		exp, err := strconv.ParseInt(suffix[1:], 10, 32)
		if err != nil || suffix[1:] == "" || suffix[1] == '+' && len(suffix) == 2 {
			return 0, bad(fmt.Sprintf("bad exponent %q", suffix))
		}
		if exp > 40 || exp < -40 {
			return 0, bad("exponent out of range")
		}
		mul.Mul(mul, pow10(exp))
	}
	r.Mul(r, mul)
	// Round up, as Kubernetes' Quantity.Value does: a request for 0.5 bytes
	// needs a byte.
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		if scale == 1 {
			return 0, bad(fmt.Sprintf("too large (the most is %d, just under 8Ei)", int64(math.MaxInt64)))
		}
		return 0, bad(fmt.Sprintf("too large (the most is %d/%d)", int64(math.MaxInt64), scale))
	}
	return q.Int64(), nil
}

func pow10(exp int64) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs64(exp)), nil)
	if exp < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p)
	}
	return new(big.Rat).SetInt(p)
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// formatMilli writes a millicore count the way a person would: "2" for
// 2000, "250m" for 250.
func formatMilli(m int64) string {
	if m%1000 == 0 {
		return strconv.FormatInt(m/1000, 10)
	}
	return strconv.FormatInt(m, 10) + "m"
}
