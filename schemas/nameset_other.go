//go:build !unix

package schemas

// Without mmap the set's memory stays on the Go heap.
func offHeapAlloc(int) []byte { return nil }

func offHeapFree([]byte) {}
