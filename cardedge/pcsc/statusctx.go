package pcsc

// #cgo pkg-config: libpcsclite
// #include <stdlib.h>
// #include <string.h>
// #include <winscard.h>
import "C"

import (
	"errors"
	"time"
	"unsafe"

	"github.com/ebfe/scard"
)

// statusContext is a PC/SC context for listing readers and waiting on their
// state, which the source and the monitor use instead of scard.Context.
//
// The pinned ebfe/scard version keeps the reader names of every
// GetStatusChange call in a package-level map that it writes without a lock,
// so two goroutines calling it at once (the monitor's long wait and a
// listing) crash the whole process with "concurrent map writes", and can let
// the collector free a name while pcsc-lite still reads it. Here every call
// owns its C memory. Transports keep using ebfe/scard for card I/O, which
// has no such shared state.
type statusContext struct {
	h C.SCARDCONTEXT
}

func establishStatusContext() (*statusContext, error) {
	var h C.SCARDCONTEXT
	if err := pcscError(C.SCardEstablishContext(C.SCARD_SCOPE_SYSTEM, nil, nil, &h)); err != nil {
		return nil, err
	}
	return &statusContext{h: h}, nil
}

// Release frees the context; a blocked GetStatusChange on it returns.
func (c *statusContext) Release() error {
	return pcscError(C.SCardReleaseContext(c.h))
}

// Cancel interrupts a GetStatusChange in progress on this context.
func (c *statusContext) Cancel() error {
	return pcscError(C.SCardCancel(c.h))
}

// ListReaders returns the reader names (scard.ErrNoReadersAvailable when
// there are none).
func (c *statusContext) ListReaders() ([]string, error) {
	for {
		var n C.DWORD
		if err := pcscError(C.SCardListReaders(c.h, nil, nil, &n)); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		buf := (*C.char)(C.malloc(C.size_t(n)))
		got := n
		err := pcscError(C.SCardListReaders(c.h, nil, buf, &got))
		list := C.GoBytes(unsafe.Pointer(buf), C.int(min(got, n)))
		C.free(unsafe.Pointer(buf))
		if errors.Is(err, scard.ErrInsufficientBuffer) {
			continue // a reader was plugged in between the two calls
		}
		if err != nil {
			return nil, err
		}
		return splitMultiString(list), nil
	}
}

// GetStatusChange waits up to timeout for the state of any reader in states
// to differ from its CurrentState, and fills in EventState and Atr.
func (c *statusContext) GetStatusChange(states []scard.ReaderState, timeout time.Duration) error {
	if len(states) == 0 {
		return nil
	}
	size := C.size_t(unsafe.Sizeof(C.SCARD_READERSTATE{})) * C.size_t(len(states))
	arr := (*C.SCARD_READERSTATE)(C.malloc(size))
	C.memset(unsafe.Pointer(arr), 0, size)
	cs := unsafe.Slice(arr, len(states))
	defer func() {
		for i := range cs {
			C.free(unsafe.Pointer(cs[i].szReader))
		}
		C.free(unsafe.Pointer(arr))
	}()
	for i, st := range states {
		cs[i].szReader = C.CString(st.Reader)
		cs[i].dwCurrentState = C.DWORD(st.CurrentState)
	}
	ms := C.DWORD(C.INFINITE)
	if timeout >= 0 {
		ms = C.DWORD(timeout / time.Millisecond)
	}
	if err := pcscError(C.SCardGetStatusChange(c.h, ms, arr, C.DWORD(len(states)))); err != nil {
		return err
	}
	for i := range states {
		states[i].EventState = scard.StateFlag(cs[i].dwEventState)
		n := min(int(cs[i].cbAtr), len(cs[i].rgbAtr))
		states[i].Atr = C.GoBytes(unsafe.Pointer(&cs[i].rgbAtr[0]), C.int(n))
	}
	return nil
}

func pcscError(rv C.LONG) error {
	if rv == C.SCARD_S_SUCCESS {
		return nil
	}
	return scard.Error(uint32(rv))
}

// splitMultiString splits a PC/SC multi-string (NUL-separated names ending
// in an empty one).
func splitMultiString(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i == 0 {
			break
		}
		out = append(out, string(b[:i]))
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
