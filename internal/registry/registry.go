// Package registry maps endpoint schemes to backend constructors (the golang-migrate way:
// drivers chosen by URL scheme), for Sources and Sinks alike.
package registry

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
)

// Opener builds a backend for a parsed endpoint.
type Opener[T any] func(ctx context.Context, ep *endpoint.Endpoint, opt core.Options) (T, error)

// Registry holds the openers of one kind of backend.
type Registry[T any] struct {
	kind    string // "source" or "target", for messages
	mu      sync.RWMutex
	openers map[string]Opener[T]
}

// New returns an empty registry; kind names the backends in errors.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, openers: map[string]Opener[T]{}}
}

// Register makes a scheme openable; called from init in each provider file.
func (r *Registry[T]) Register(scheme string, o Opener[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.openers[scheme] = o
}

// Open parses s and opens its backend.
func (r *Registry[T]) Open(ctx context.Context, s string, opt core.Options) (T, error) {
	var zero T
	ep, err := endpoint.Parse(s)
	if err != nil {
		return zero, err
	}
	r.mu.RLock()
	o, ok := r.openers[ep.Scheme]
	r.mu.RUnlock()
	if !ok {
		return zero, fmt.Errorf("unknown %s scheme %q (have %v): %w", r.kind, ep.Scheme, r.Schemes(), core.ErrUsage)
	}
	return o(ctx, ep, opt)
}

// Schemes lists the registered schemes.
func (r *Registry[T]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.openers))
	for k := range r.openers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
