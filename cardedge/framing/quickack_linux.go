package framing

import (
	"net"
	"syscall"
)

// QuickAck turns on TCP_QUICKACK, which Linux clears again after it sends an
// ACK: a card-side server calls it after every read so that vpcd's
// separately written length and payload are not held up by a delayed ACK
// (~40 ms per APDU).
func QuickAck(c net.Conn) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	}); err != nil {
		return err
	}
	return serr
}
