package backup

import "golang.org/x/sys/unix"

// startWriteback asks Linux to start writing a range of the file out: sync_file_range
// with SYNC_FILE_RANGE_WRITE alone returns without waiting for the disk. It is advice: an
// error changes nothing, as the fsync at the end is what makes the data durable.
func startWriteback(fd uintptr, off, n int64) {
	_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
