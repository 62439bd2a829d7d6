package netcard

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/cardedge/framing"
)

// FuzzHostileServer: the socket transport's peer may be anything listening
// at a COOLKEY_SIM address. A server that answers every frame with the
// fuzzer's bytes (cut into frames by their own 2-byte lengths, or raw)
// must make Dial, Transmit, the transactions and the monitor's state probe
// end with a value or an error, never panic or hang.
func FuzzHostileServer(f *testing.F) {
	state := framing.State{Present: true, Counter: 7}.Encode()
	frame := func(p []byte) []byte { b, _ := framing.AppendFrame(nil, p); return b }
	var good []byte
	good = append(good, frame(state)...)
	good = append(good, frame([]byte{0x3B, 0x02, 0x14, 0x50})...)
	good = append(good, frame([]byte{0x90, 0x00})...)
	good = append(good, frame(framing.Ack)...)
	good = append(good, frame(state)...)
	good = append(good, frame(framing.Ack)...)
	f.Add(good)
	f.Add([]byte{0xFF, 0xFF, 0x01})
	f.Add(frame([]byte{2, 0, 0, 0, 0}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, script []byte) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(2 * time.Second))
					rest := script
					for {
						if _, err := framing.ReadFrame(c); err != nil {
							return
						}
						// Answer with the next frame of the script, or
						// with its raw remainder when it does not parse.
						p, r, err := framing.DecodeFrame(rest)
						if err != nil {
							c.Write(rest)
							return
						}
						var hdr [2]byte
						binary.BigEndian.PutUint16(hdr[:], uint16(len(p)))
						c.Write(append(hdr[:], p...))
						rest = r
					}
				}()
			}
		}()
		done := make(chan struct{})
		go func() {
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			tr, err := Dial(ctx, ln.Addr().String())
			if err == nil {
				tr.timeout = time.Second
				if tr.BeginTransaction() == nil {
					tr.Transmit([]byte{0x00, 0xA4, 0x04, 0x00})
					tr.EndTransaction()
				}
				tr.Reset()
				tr.Close()
			}
			probe(ln.Addr().String())
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("the transport hung on a hostile server")
		}
	})
}
