package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// signals returns a context cancelled on the second interrupt, and a channel closed on the
// first: the first Ctrl-C stops reading and lets in-flight users drain; the second gives up.
func signals() (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for {
			select {
			case <-ch:
				n++
				if n == 1 {
					os.Stderr.WriteString("ferry: interrupted: finishing the users in flight (interrupt again to abort now)\n")
					close(stop)
				} else {
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx, stop, func() { signal.Stop(ch); cancel() }
}
