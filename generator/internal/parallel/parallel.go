// Package parallel runs a loop's iterations on every CPU.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Each runs fn(0..n-1) on every CPU and returns when all have returned.
// Callers write results by index, so the order of completion never shows.
func Each(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
