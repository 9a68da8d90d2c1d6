package main

import (
	"flag"

	"github.com/acirun/acirun/stage0/host"
)

// uuidFileFlag registers --uuid-file, which every command that takes a pod
// UUID accepts in place of it (rkt's flag).
func uuidFileFlag(fs *flag.FlagSet, file *string) {
	fs.StringVar(file, "uuid-file", "", "read the pod's UUID from `FILE` (as --uuid-file-save wrote it) instead of an argument")
}

// withUUIDFile returns args with the UUID read from file (host.ReadUUIDFile)
// first, so that a command counts its arguments the same way with or
// without --uuid-file; with no file, args as they are.
func withUUIDFile(args []string, file string) ([]string, error) {
	if file == "" {
		return args, nil
	}
	uuid, err := host.ReadUUIDFile(file)
	if err != nil {
		return nil, err
	}
	return append([]string{uuid}, args...), nil
}

// oneUUID is the pod UUID of a command that takes exactly one: the argument,
// or the one --uuid-file read.
func oneUUID(cmd string, args []string, file string) (string, error) {
	args, err := withUUIDFile(args, file)
	if err != nil {
		return "", err
	}
	if len(args) != 1 {
		return "", usagef("%s takes one UUID", cmd)
	}
	return args[0], nil
}
