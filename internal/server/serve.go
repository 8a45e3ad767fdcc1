package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long in-flight requests get to finish after the
// context of Serve is cancelled (Ctrl-C, SIGTERM) before their connections
// are closed.
const ShutdownGrace = 5 * time.Second

// Serve answers requests on ln until ctx is cancelled, then shuts down
// gracefully: in-flight requests get ShutdownGrace to finish, and the
// connections still open after it are closed, which forced reports. A
// cancelled context is no error; a listener that fails is.
func (s *Server) Serve(ctx context.Context, ln net.Listener) (forced bool, err error) {
	addr := ln.Addr()
	hs := s.HTTPServer(addr.String())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return false, fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// Requests still running after the grace period are cut off; so are
		// connections a client opened but never used, which net/http counts
		// as busy for 5 s. Stopping was asked for, so this is no failure.
		hs.Close()
		forced = true
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return forced, fmt.Errorf("serve on %s: %w", addr, err)
	}
	return forced, nil
}
