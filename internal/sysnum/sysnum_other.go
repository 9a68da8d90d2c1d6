//go:build !linux || !(amd64 || arm64 || 386 || arm)

package sysnum

// Arch is 0: this architecture has no table (mksysnum.go's arches).
const Arch = 0

var (
	names   = [...]string{}
	numbers = [...]uint32{}
)
