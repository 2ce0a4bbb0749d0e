//go:build !unix

package ferrytest

import "os"

var quitSignal = os.Kill
