// Package load holds the Sinks: one file per provider (auth0.go, appid.go, scim.go,
// file.go), each registered by endpoint scheme, and the roles/scopes preflight.
package load

import (
	"context"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/registry"
)

var sinks = registry.New[core.Sink]("target")

// Register makes a scheme openable as a target; called from init in each provider file.
func Register(scheme string, o registry.Opener[core.Sink]) { sinks.Register(scheme, o) }

// Open parses dst and opens its Sink.
func Open(ctx context.Context, dst string, opt core.Options) (core.Sink, error) {
	return sinks.Open(ctx, dst, opt)
}
