//go:build !linux

package framing

import "net"

// QuickAck is Linux-only; elsewhere TCP_NODELAY has to do.
func QuickAck(net.Conn) error { return nil }
