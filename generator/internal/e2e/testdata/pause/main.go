// pause is the e2e test's pod sandbox: it holds the pod's namespaces, reaps
// orphans and exits on SIGINT or SIGTERM, as registry.k8s.io/pause does.
// It is built from here because the real image cannot be pulled offline.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
