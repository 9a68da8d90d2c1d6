// Command writetemplate writes units/aci@.service from unitgen.TemplateFile
// (go generate ./unitgen). unitgen does no I/O itself; this is its one
// writer of the shipped file, and TestTemplateFileIsGenerated checks that
// the file in the tree is what it writes.
package main

import (
	"fmt"
	"os"

	"github.com/acirun/acirun/unitgen"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: writetemplate FILE")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], unitgen.TemplateFile(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "writetemplate:", err)
		os.Exit(1)
	}
}
