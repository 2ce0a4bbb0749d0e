package ferrytest

import (
	"os"
	"syscall"
)

// maxRSSKB is the child's peak resident set (getrusage's ru_maxrss: kilobytes on Linux).
func maxRSSKB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}
