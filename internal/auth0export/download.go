package auth0export

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ferry-dev/ferry/internal/httpx"
)

// ErrDecompressedTooLarge is returned when an export file inflates past the cap. It also
// matches httpx.ErrTooLarge: a too-large answer, whichever way it is measured.
var ErrDecompressedTooLarge error = tooLarge{}

type tooLarge struct{}

func (tooLarge) Error() string { return "decompressed export over the size cap" }
func (tooLarge) Unwrap() error { return httpx.ErrTooLarge }

// Download fetches export files: Root and Overridden are CheckLocation's; Transport,
// Now and Sleep the download client's (nil: the real ones); MaxInflate caps the file's
// decompressed size (a gzip bomb ends in ErrDecompressedTooLarge).
type Download struct {
	Root       string
	Overridden bool
	MaxInflate int64
	Transport  http.RoundTripper
	Now        func() time.Time
	Sleep      func(ctx context.Context, d time.Duration) error
}

// Open checks the location of job's file (refusals match ErrHostile), downloads it and
// returns its decompressed bytes, capped. Close ends the download.
func (d *Download) Open(ctx context.Context, job, loc string) (io.ReadCloser, error) {
	u, err := CheckLocation(loc, d.Root, d.Overridden)
	if err != nil {
		return nil, err
	}
	// A client of its own: no bearer token for the signed URL, and the download does not
	// spend the Management API budget.
	dl, err := httpx.New(httpx.Config{Name: "auth0 export", BaseURL: u.Scheme + "://" + u.Host + "/",
		Transport: d.Transport, Now: d.Now, Sleep: d.Sleep})
	if err != nil {
		return nil, err
	}
	// The location as Auth0 wrote it: re-encoding a signed URL could break its signature.
	body, _, err := dl.Stream(ctx, &httpx.Request{Path: loc})
	if err != nil {
		return nil, fmt.Errorf("auth0: export job %s: download: %w", job, err)
	}
	zr, err := gzip.NewReader(body)
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("auth0: export job %s: file is not gzip: %w", job, err)
	}
	return &file{capReader: capReader{r: zr, max: d.MaxInflate, what: "auth0: export job " + job}, zr: zr, body: body}, nil
}

type file struct {
	capReader
	zr   *gzip.Reader
	body io.Closer
}

func (f *file) Close() error {
	f.zr.Close()
	return f.body.Close()
}

// capReader fails once more than max bytes were read: a gzip bomb must end in a clear
// error, not in a full disk or an endless run. A file of exactly max bytes passes.
type capReader struct {
	r    io.Reader
	n    int64
	max  int64
	what string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n > c.max {
		return 0, fmt.Errorf("%s: %w of %d bytes", c.what, ErrDecompressedTooLarge, c.max)
	}
	if room := c.max - c.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, fmt.Errorf("%s: %w of %d bytes", c.what, ErrDecompressedTooLarge, c.max)
	}
	return n, err
}
