package main

// extraCommands lists the commands of the image pipeline and the pod runtime.
func extraCommands() []*command {
	return nil
}

// hiddenEntry dispatches the entry points that acirun re-executes itself
// into; they are not commands a user types.
func hiddenEntry(args []string) (int, bool) {
	return 0, false
}
