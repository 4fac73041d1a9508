// Command ksgen compiles a KubeKey cluster file into first-boot payloads.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ksgen:", err)
		os.Exit(1)
	}
}

// run is the whole program; tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := newRootCommand(stdout, stderr)
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	return cmd.Execute()
}
