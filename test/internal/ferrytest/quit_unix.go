//go:build unix

package ferrytest

import "syscall"

// quitSignal makes a Go child print its goroutines before it dies.
var quitSignal = syscall.SIGQUIT
