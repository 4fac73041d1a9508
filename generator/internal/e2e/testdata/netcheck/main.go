// netcheck is the booted e2e's workload, packed into an image because
// nothing can be pulled offline:
//
//	netcheck serve         answers HTTP on :8080 with the pod's name
//	netcheck get URL       prints what URL answers, non-zero on failure
//	netcheck lookup NAME   resolves NAME through the pod's resolv.conf
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: netcheck serve | get URL | lookup NAME"))
	}
	switch os.Args[1] {
	case "serve":
		name, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, name) })
		fail(http.ListenAndServe(":8080", nil))
	case "get":
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(os.Args[2])
		if err != nil {
			fail(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			fail(err)
		}
		fmt.Print(string(b))
	case "lookup":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, os.Args[2])
		if err != nil {
			fail(err)
		}
		fmt.Print(strings.Join(addrs, " "))
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "netcheck:", err)
	os.Exit(1)
}
