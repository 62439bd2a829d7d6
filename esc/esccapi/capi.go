// Package esccapi is the C API of the enrollment helper, declared in
// include/coolkey-esc.h and exported by libcoolkeypk11.so: package esc's
// Manager behind integer handles, JSON documents and C callbacks.
//
// This file is the cgo boundary: every exported function recovers panics
// into COOLKEY_ESC_ERR_INTERNAL, checks its pointers, converts strings, and
// hands the work to the pure Go side (handles.go, ops.go, watch.go), which
// is what the Go tests exercise. Nothing here writes to stdout or stderr.
// Strings returned to C are malloc'd (C.CString) and released with
// coolkey_esc_free; C function pointers and user data stay in C memory
// (capi.h) and are called through the trampolines of capi.c.
package esccapi

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -Wall
#define COOLKEY_ESC_NO_PROTOTYPES 1
#include <stdlib.h>
#include <string.h>
#include "capi.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/coolkey-go/coolkey-go/esc"
	"github.com/coolkey-go/coolkey-go/tps"
)

// protect turns a panic in an exported function into an internal error
// recorded under handle h: a panic must never unwind into the host.
func protect(h int, rc *C.int) {
	if p := recover(); p != nil {
		SetError(h, fmt.Errorf("internal error: %v", p))
		*rc = C.int(esc.ExitInternal)
	}
}

// fail records err for handle h and returns its code.
func fail(h int, err error) C.int {
	SetError(h, err)
	return C.int(Code(err))
}

// goString converts an optional C string (NULL is "").
func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

var version struct {
	once sync.Once
	s    *C.char // allocated once, never freed: it is returned as static
}

//export coolkey_esc_version
func coolkey_esc_version() (s *C.char) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	version.once.Do(func() { version.s = C.CString(Version) })
	return version.s
}

//export coolkey_esc_api_version
func coolkey_esc_api_version() C.int { return C.COOLKEY_ESC_API_VERSION }

//export coolkey_esc_open
func coolkey_esc_open(out *C.coolkey_esc_handle) (rc C.int) {
	defer protect(0, &rc)
	if out == nil {
		return fail(0, errArguments("coolkey_esc_open: handle pointer is NULL"))
	}
	h, err := Open()
	if err != nil {
		return fail(0, err)
	}
	*out = C.coolkey_esc_handle(h.ID())
	return C.COOLKEY_ESC_OK
}

//export coolkey_esc_close
func coolkey_esc_close(handle C.coolkey_esc_handle) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	if err := h.Close(); err != nil {
		return fail(id, err)
	}
	return C.COOLKEY_ESC_OK
}

//export coolkey_esc_last_error
func coolkey_esc_last_error(handle C.coolkey_esc_handle) (s *C.char) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	msg, ok := LastError(int(handle))
	if !ok {
		return nil
	}
	return C.CString(msg)
}

//export coolkey_esc_add_ca_file
func coolkey_esc_add_ca_file(handle C.coolkey_esc_handle, path *C.char) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	if path == nil {
		return fail(id, errArguments("coolkey_esc_add_ca_file: path is NULL"))
	}
	if err := h.AddCAFile(C.GoString(path)); err != nil {
		return fail(id, err)
	}
	return C.COOLKEY_ESC_OK
}

// jsonOut runs f for handle id and stores its document in *out.
func jsonOut(id int, name string, out **C.char, f func(h *Handle) ([]byte, error)) C.int {
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	if out == nil {
		return fail(id, errArguments("%s: output pointer is NULL", name))
	}
	*out = nil
	b, err := f(h)
	if err != nil {
		return fail(id, err)
	}
	*out = C.CString(string(b))
	return C.COOLKEY_ESC_OK
}

//export coolkey_esc_list_cards
func coolkey_esc_list_cards(handle C.coolkey_esc_handle, out **C.char) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	return jsonOut(id, "coolkey_esc_list_cards", out, (*Handle).ListCardsJSON)
}

//export coolkey_esc_card_status
func coolkey_esc_card_status(handle C.coolkey_esc_handle, reader *C.char, out **C.char) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	r := goString(reader)
	return jsonOut(id, "coolkey_esc_card_status", out, func(h *Handle) ([]byte, error) { return h.CardStatusJSON(r) })
}

//export coolkey_esc_phone_home
func coolkey_esc_phone_home(handle C.coolkey_esc_handle, reader, url *C.char, out **C.char) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	r, u := goString(reader), goString(url)
	return jsonOut(id, "coolkey_esc_phone_home", out, func(h *Handle) ([]byte, error) { return h.PhoneHomeJSON(r, u) })
}

// The user data parameters below are void * in coolkey-esc.h but uintptr_t
// here, which the ABIs Go supports pass the same way. C code often passes
// an integer cast to a pointer (GINT_TO_POINTER); held in an
// unsafe.Pointer, a value under 4096 makes the runtime throw "invalid
// pointer found on stack" when the goroutine's stack grows. As an integer
// it is only ever turned back into a pointer in C (capi.c).

//export coolkey_esc_start
func coolkey_esc_start(handle C.coolkey_esc_handle, operation C.int, reader, tpsURL, tokenType *C.char,
	callbacks *C.coolkey_esc_callbacks, userData C.uintptr_t, opOut *C.coolkey_esc_op) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	if opOut == nil {
		return fail(id, errArguments("coolkey_esc_start: operation pointer is NULL"))
	}
	*opOut = 0
	cop := C.cke_op_new(callbacks, userData)
	if cop == nil {
		return fail(id, fmt.Errorf("out of memory"))
	}
	started := false
	defer func() {
		if !started {
			C.free(unsafe.Pointer(cop))
		}
	}()
	err = h.Start(tps.Op(operation), goString(reader), goString(tpsURL), goString(tokenType), cCallbacks(cop),
		func(op int) { *opOut = C.coolkey_esc_op(op) })
	if err != nil {
		return fail(id, err)
	}
	started = true
	return C.COOLKEY_ESC_OK
}

// cCallbacks calls the C function pointers in cop, which is freed after
// the last of them, done.
func cCallbacks(cop *C.cke_op) Callbacks {
	var cb Callbacks
	if C.cke_has_login(cop) != 0 {
		cb.Login = func(prompt string, a *Answers) bool {
			cs := C.CString(prompt)
			defer C.free(unsafe.Pointer(cs))
			return C.cke_call_login(cop, cs, C.int(a.ID())) == 0
		}
	}
	if C.cke_has_new_pin(cop) != 0 {
		cb.NewPIN = func(minLen, maxLen int) ([]byte, bool) {
			size := 256
			if maxLen >= size {
				size = maxLen + 1
			}
			buf := (*C.char)(C.calloc(C.size_t(size), 1))
			if buf == nil {
				return nil, false
			}
			defer C.free(unsafe.Pointer(buf))
			defer C.cke_wipe(unsafe.Pointer(buf), C.size_t(size))
			if C.cke_call_new_pin(cop, C.int(minLen), C.int(maxLen), buf, C.size_t(size)) != 0 {
				return nil, false
			}
			n := int(C.strnlen(buf, C.size_t(size)))
			if n == size {
				// Not terminated: give esc an empty PIN, which its
				// length check refuses with a message for the user.
				return []byte{}, true
			}
			return C.GoBytes(unsafe.Pointer(buf), C.int(n)), true
		}
	}
	if C.cke_has_progress(cop) != 0 {
		cb.Progress = func(percent int, task, text string) {
			ct, cx := C.CString(task), C.CString(text)
			defer C.free(unsafe.Pointer(ct))
			defer C.free(unsafe.Pointer(cx))
			C.cke_call_progress(cop, C.int(percent), ct, cx)
		}
	}
	cb.Done = func(result, status int, message string) {
		defer C.free(unsafe.Pointer(cop))
		cm := C.CString(message)
		defer C.free(unsafe.Pointer(cm))
		C.cke_call_done(cop, C.int(result), C.int(status), cm)
	}
	return cb
}

//export coolkey_esc_answer
func coolkey_esc_answer(answers *C.coolkey_esc_answers, field, value *C.char) (rc C.int) {
	defer protect(0, &rc)
	if answers == nil {
		return fail(0, errArguments("coolkey_esc_answer: answers is NULL"))
	}
	a, err := LookupAnswers(int(answers.id))
	if err != nil {
		return fail(0, err)
	}
	if field == nil || value == nil {
		return fail(a.Handle(), errArguments("coolkey_esc_answer: field or value is NULL"))
	}
	v := C.GoBytes(unsafe.Pointer(value), C.int(C.strlen(value)))
	defer clear(v)
	if err := a.Set(C.GoString(field), v); err != nil {
		return fail(a.Handle(), err)
	}
	return C.COOLKEY_ESC_OK
}

//export coolkey_esc_cancel
func coolkey_esc_cancel(handle C.coolkey_esc_handle, op C.coolkey_esc_op) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	if err := h.Cancel(int(op)); err != nil {
		return fail(id, err)
	}
	return C.COOLKEY_ESC_OK
}

//export coolkey_esc_wait
func coolkey_esc_wait(handle C.coolkey_esc_handle, op C.coolkey_esc_op, message **C.char) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	if message != nil {
		*message = nil
	}
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	r, err := h.Wait(int(op))
	if err != nil {
		return fail(id, err)
	}
	if message != nil {
		*message = C.CString(r.Message)
	}
	return C.int(r.Code)
}

//export coolkey_esc_watch_start
func coolkey_esc_watch_start(handle C.coolkey_esc_handle, event C.coolkey_esc_event_fn, userData C.uintptr_t, watchOut *C.coolkey_esc_op) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	if event == nil || watchOut == nil {
		return fail(id, errArguments("coolkey_esc_watch_start: event or watch pointer is NULL"))
	}
	*watchOut = 0
	w := C.cke_watch_new(event, userData)
	if w == nil {
		return fail(id, fmt.Errorf("out of memory"))
	}
	err = h.WatchStart(
		func(ev string) {
			cs := C.CString(ev)
			defer C.free(unsafe.Pointer(cs))
			C.cke_call_event(w, cs)
		},
		func(wid int) { *watchOut = C.coolkey_esc_op(wid) },
		func() { C.free(unsafe.Pointer(w)) })
	if err != nil {
		C.free(unsafe.Pointer(w))
		return fail(id, err)
	}
	return C.COOLKEY_ESC_OK
}

//export coolkey_esc_watch_stop
func coolkey_esc_watch_stop(handle C.coolkey_esc_handle, watch C.coolkey_esc_op) (rc C.int) {
	id := int(handle)
	defer protect(id, &rc)
	h, err := Lookup(id)
	if err != nil {
		return fail(id, err)
	}
	if err := h.WatchStop(int(watch)); err != nil {
		return fail(id, err)
	}
	return C.COOLKEY_ESC_OK
}
