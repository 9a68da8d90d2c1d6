// Package unitgen describes a pod's systemd unit once, and writes that one
// description in the two forms systemd takes it: the property list of
// StartTransientUnit (D-Bus, for `acirun run`) and unit-file text (for
// units/aci@.service, `acirun unit generate` and the README's systemd-run
// recipe). Both come from the same list of settings, built together one
// setting at a time, so that the unit a pod gets cannot depend on which way
// it was handed to systemd; a test maps every property back to its
// unit-file option and compares them.
//
// The package is pure: it does no I/O and opens no D-Bus connection. The
// host side (stage0) reads the pod directory and talks to systemd; unitgen
// only turns what it read into values. That keeps every rule about units
// (escaping, resource arithmetic, defaults) testable with tables and fuzz
// targets, and keeps the pod side (stage1-systemd) and the host side from
// each growing a unit writer of their own.
//
// Unit syntax is hostile ground: systemd expands %-specifiers in unit files,
// $VARIABLES in command lines at exec time (for transient units too), splits
// and C-unescapes words, and reads prefixes such as '-' and '@' on the
// executable. Values are escaped for all of it; what cannot be written
// faithfully (a newline in an argument of a unit file's ExecStart, an
// executable path systemd refuses) is an error naming the value, never a
// unit that would run something else.
package unitgen

//go:generate go run ./internal/writetemplate ../units/aci@.service
