// Command gendocs rewrites the ksgen document reference in the README
// (make docs; go generate ./generator/input/spec/schema) from the Go types.
package main

import (
	"fmt"
	"os"

	"github.com/ksgen/ksgen/generator/input/spec/schema"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs README.md")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := schema.UpdateReadme(string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
