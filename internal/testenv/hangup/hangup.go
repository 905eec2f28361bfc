// Package hangup holds a TCP address for a test, hanging up on every connection: a dependency that
// is down, whose port no parallel test can take meanwhile. It imports nothing of Vane's, so any
// package's tests can use it.
package hangup

import (
	"net"
	"testing"
	"time"
)

// Hold listens on addr until the test ends, closing every connection at once, and returns the
// address it holds.
func Hold(t testing.TB, addr string) string {
	t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port of a server just closed can take a moment to be free
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("hold %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return l.Addr().String()
}
