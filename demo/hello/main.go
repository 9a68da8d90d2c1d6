// Command hello is the demo app of acirun's quick start: a static program
// that shows what the pod gave it (hostname, user, environment the appc spec
// promises) and exits with status 0.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	host, _ := os.Hostname()
	fmt.Printf("Hello from %s, an app in an acirun pod!\n", os.Getenv("AC_APP_NAME"))
	fmt.Printf("  hostname: %s\n", host)
	fmt.Printf("  uid/gid:  %d/%d\n", os.Getuid(), os.Getgid())
	fmt.Printf("  pid:      %d\n", os.Getpid())
	for _, k := range []string{"container", "PATH", "GREETING"} {
		fmt.Printf("  %s=%s\n", k, os.Getenv(k))
	}
	if len(os.Args) > 1 {
		fmt.Printf("  args:     %s\n", strings.Join(os.Args[1:], " "))
	}
}
