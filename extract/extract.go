// Package extract holds the Sources: one file per provider (auth0.go, appid.go, scim.go,
// file.go), each registered by endpoint scheme so cmd/ferry opens any of them by its SRC.
package extract

import (
	"context"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/registry"
)

var sources = registry.New[core.Source]("source")

// Register makes a scheme openable as a source; called from init in each provider file.
func Register(scheme string, o registry.Opener[core.Source]) { sources.Register(scheme, o) }

// Open parses src and opens its Source.
func Open(ctx context.Context, src string, opt core.Options) (core.Source, error) {
	return sources.Open(ctx, src, opt)
}
