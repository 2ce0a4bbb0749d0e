//go:build unix

package schemas

import "syscall"

// offHeapAlloc maps size bytes of anonymous, zeroed memory outside the Go heap; nil when
// the system refuses (the caller then uses the heap).
func offHeapAlloc(size int) []byte {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return b
}

func offHeapFree(b []byte) { syscall.Munmap(b) }
