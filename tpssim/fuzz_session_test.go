package tpssim

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/tps"
)

// fakeConn is the connection a fuzzed session runs on: reads come from
// the session's MessageReader, so only deadlines matter here.
type fakeConn struct{ net.Conn }

func (fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzSession feeds arbitrary client bytes (messages, APDU answers,
// credentials, garbage) to a whole operation: it must end, with or
// without END_OP, and never panic or loop.
func FuzzSession(f *testing.F) {
	seed := func(msgs ...tps.Message) []byte {
		var b []byte
		for _, m := range msgs {
			e, _ := tps.Encode(m)
			b = append(b, e...)
		}
		return b
	}
	pdu := func(hex ...byte) tps.Message { return tps.TokenPDUResponse{Response: hex} }
	f.Add(seed(tps.BeginOp{Op: tps.OpFormat}, pdu(0x90, 0x00), pdu(0x90, 0x00)))
	f.Add(seed(tps.BeginOp{Op: tps.OpEnroll, Extensions: tps.Extensions{{Name: tps.ExtStatusUpdate, Value: "true"}}}, pdu(0x6C, 0x10), pdu(0x6F, 0x00, 0x90, 0x00)))
	f.Add(seed(tps.BeginOp{Op: tps.OpResetPIN}, tps.StatusUpdateResponse{Percent: 10}, pdu(0x90, 0x00)))
	f.Add([]byte("s=12&msg_type=2&"))

	var panicked atomic.Value
	srv, err := NewServer(Config{StateDir: f.TempDir(), Logger: slog.New(panicCatcher{&panicked}), Users: func() *Users {
		u := NewUsers()
		u.Add(testUser, testPassword)
		return u
	}(), KeySize: 1024, MessageTimeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sess := &session{
			srv:     srv,
			conn:    fakeConn{},
			r:       tps.NewMessageReader(bytes.NewReader(in), tps.DefaultMaxMessageSize),
			w:       tps.NewChunkWriter(io.Discard),
			timeout: time.Second,
			log:     srv.log,
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			sess.run("fuzz", "https://tps.example/tps/phoneHome")
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end")
		}
		if p := panicked.Swap(""); p != nil && p != "" {
			t.Fatalf("the operation panicked: %v", p)
		}
	})
}

// panicCatcher is a log handler that remembers the recovered panic
// protect logs, so the fuzzer sees panics the server survives.
type panicCatcher struct{ last *atomic.Value }

func (panicCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (h panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "panic in operation" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "stack" {
				h.last.Store(a.Value.String())
			}
			return true
		})
	}
	return nil
}
func (h panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicCatcher) WithGroup(string) slog.Handler      { return h }
