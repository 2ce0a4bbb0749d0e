package extract

import (
	"context"
	"fmt"
	"sync"

	"github.com/segmentio/encoding/json"
)

// indexPage is one page of an offset-paged listing (App ID's users/export, SCIM's
// startIndex paging).
type indexPage struct {
	total      int64 // totalResults; -1 when the server did not say
	items      []json.RawMessage
	nextCursor string // a SCIM server that pages by cursor even when asked by index
}

// indexPager reads an offset-paged listing from position first on, a few pages in
// flight, and hands every item to emit with its 0-based position. It defends against
// the ways servers get paging wrong: a page size capped below what was asked (detected
// on the first page), a short page in the middle (the gap is read again), a total that
// is too small (reading goes on while pages come back full), and pages that repeat users
// (duplicates are dropped; a page of nothing but repeats is an error, not an endless loop).
type indexPager struct {
	name   string // for errors: "appid: users/export"
	first  int64
	count  int
	window int
	fetch  func(ctx context.Context, pos int64, count int) (*indexPage, error)
	idOf   func(json.RawMessage) string

	once   sync.Once
	head   *indexPage // the first page, read by Total or run
	err    error
	cursor func(ctx context.Context, next string, skipped int64) error // switch to cursor paging
}

// start reads the first page once.
func (p *indexPager) start(ctx context.Context) (*indexPage, error) {
	p.once.Do(func() {
		p.head, p.err = p.fetch(ctx, p.first, p.count)
		if p.err == nil && p.head != nil {
			n := len(p.head.items)
			// A server that caps the page size below the request shows it on a short
			// first page that is not the last one.
			if n > 0 && n < p.count && (p.head.total < 0 || p.first+int64(n) < p.head.total) {
				p.count = n
			}
		}
	})
	return p.head, p.err
}

// total is what the first page announced, or -1.
func (p *indexPager) total(ctx context.Context) int64 {
	h, err := p.start(ctx)
	if err != nil || h == nil {
		return -1
	}
	return h.total
}

func (p *indexPager) run(ctx context.Context, emit func(pos int64, item json.RawMessage) error) error {
	head, err := p.start(ctx)
	if err != nil {
		return err
	}
	seen := newSeenIDs()
	expected := p.first
	// deliver hands over the items of a page starting at start, skipping positions
	// already delivered and users already seen.
	deliver := func(start int64, items []json.RawMessage) error {
		considered, fresh := 0, 0
		for k, it := range items {
			pos := start + int64(k)
			if pos < expected {
				continue
			}
			considered++
			expected = pos + 1
			if !seen.add(p.idOf(it)) {
				continue
			}
			fresh++
			if err := emit(pos, it); err != nil {
				return &emitErr{err}
			}
		}
		if considered > 0 && fresh == 0 {
			return fmt.Errorf("%s: the page at position %d holds only users already read: %w", p.name, start, ErrHostile)
		}
		return nil
	}
	// fill reads [expected, upto) one request at a time: the gap a short page left.
	fill := func(ctx context.Context, upto int64) error {
		for expected < upto {
			pg, err := p.fetch(ctx, expected, int(min(int64(p.count), upto-expected)))
			if err != nil {
				return err
			}
			if len(pg.items) == 0 {
				return nil // the listing shrank under us
			}
			if err := deliver(expected, pg.items); err != nil {
				return err
			}
		}
		return nil
	}
	if head.nextCursor != "" && p.cursor != nil {
		// The server pages by cursor: follow it (RFC 9865 says to whenever one is sent).
		if err := deliver(p.first, head.items); err != nil {
			return unwrapEmit(err)
		}
		return p.cursor(ctx, head.nextCursor, expected)
	}
	if err := deliver(p.first, head.items); err != nil {
		return unwrapEmit(err)
	}
	full := len(head.items) >= p.count && len(head.items) > 0
	if !full {
		return nil
	}
	count := int64(p.count)
	last := 0
	if head.total >= 0 {
		last = int((head.total-p.first+count-1)/count) - 1
	}
	if last >= 1 {
		fullLast := true
		err := fetchInOrder(ctx, p.window, 1, last,
			func(ctx context.Context, i int) (*indexPage, error) {
				return p.fetch(ctx, p.first+int64(i)*count, p.count)
			},
			func(i int, pg *indexPage) (bool, error) {
				start := p.first + int64(i)*count
				if err := fill(ctx, start); err != nil {
					return false, err
				}
				if err := deliver(start, pg.items); err != nil {
					return false, err
				}
				fullLast = len(pg.items) >= p.count
				return len(pg.items) > 0, nil
			})
		if err != nil {
			return unwrapEmit(err)
		}
		if !fullLast {
			return nil
		}
	}
	// The total is reached and the last page was full: the total may be stale or wrong.
	// Go on one page at a time until a short page.
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		pg, err := p.fetch(ctx, expected, p.count)
		if err != nil {
			return err
		}
		if err := deliver(expected, pg.items); err != nil {
			return unwrapEmit(err)
		}
		if len(pg.items) < p.count {
			return nil
		}
	}
}

// unwrapEmit returns the pipeline's own error unwrapped, and other errors as they are.
func unwrapEmit(err error) error {
	if ee, ok := err.(*emitErr); ok {
		return ee.err
	}
	return err
}
