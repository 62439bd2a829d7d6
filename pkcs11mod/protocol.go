package pkcs11mod

import "unicode/utf8"

// outBuf is a caller's output buffer and length: the (pOut, pulOutLen) pair
// of PKCS#11's output convention (v3.0 §5.2). buf is a view of the caller's
// memory of length *size, or nil when pOut is NULL.
type outBuf struct {
	buf  []byte
	null bool
	size *uint
}

// deliver copies out into the caller's buffer under the output convention:
// a NULL buffer gets the length and CKR_OK, a short buffer gets the length
// and CKR_BUFFER_TOO_SMALL, a large enough one gets the bytes. It reports
// whether the bytes were delivered.
func (o outBuf) deliver(out []byte) (bool, error) {
	need := uint(len(out))
	if o.null {
		*o.size = need
		return false, nil
	}
	if *o.size < need {
		*o.size = need
		return false, CKR_BUFFER_TOO_SMALL
	}
	copy(o.buf, out)
	*o.size = need
	return true, nil
}

// stage identifies which call of an operation produced a kept output, so
// that it is only ever handed to a repeat of that same call.
type stage int

const (
	stageNone   stage = iota
	stageSingle       // C_Sign, C_Decrypt, ...
	stageUpdate       // C_DecryptUpdate, C_EncryptUpdate
	stageFinal        // C_SignFinal, C_DecryptFinal, ...
	stageWrap         // C_WrapKey
)

// pendingOutput is the output of a call that has run but has not been
// delivered yet, because the caller asked for the length first or gave a
// buffer that was too short.
type pendingOutput struct {
	stage stage
	out   []byte
}

// errCallSequence is CKR_OPERATION_ACTIVE returned when a caller, having
// asked for the output length of one call, makes a different one.
var errCallSequence error = callSequenceError{}

type callSequenceError struct{}

func (callSequenceError) Error() string { return "output of another call is pending" }
func (callSequenceError) Unwrap() error { return CKR_OPERATION_ACTIVE }

// produce implements the two-call length protocol for one output-producing
// call, once, for every function that has one.
//
// hint is an upper bound on the output length that costs nothing to compute
// (0 if unknown). run does the work; it is called at most once per output
// and only when its output can be kept: for a length query only when there
// is no hint, and otherwise only with a buffer at least hint bytes long.
// Output that was computed but not delivered is kept in *pending and
// returned by the next call of the same stage, so a short buffer never loses
// a result and never repeats the work.
//
// produce reports whether the output was delivered; the call is then
// complete. A non-nil error other than CKR_BUFFER_TOO_SMALL means the
// operation must end.
func produce(pending *pendingOutput, st stage, o outBuf, hint int, run func() ([]byte, error)) (bool, error) {
	if pending.stage != stageNone {
		if pending.stage != st {
			// The caller asked for one call's length and then made a
			// different call: the kept output can never be delivered.
			*pending = pendingOutput{}
			return false, errCallSequence
		}
		done, err := o.deliver(pending.out)
		if done {
			*pending = pendingOutput{}
		}
		return done, err
	}
	if hint > 0 && (o.null || *o.size < uint(hint)) {
		*o.size = uint(hint)
		if o.null {
			return false, nil
		}
		return false, CKR_BUFFER_TOO_SMALL
	}
	out, err := run()
	if err != nil {
		return false, err
	}
	done, err := o.deliver(out)
	if !done {
		*pending = pendingOutput{stage: st, out: out}
	}
	return done, err
}

// deliverCount applies the output convention to a list of n elements
// (C_GetSlotList, C_GetMechanismList): it reports whether the caller's
// array (capacity *count, absent when null) can take all n, and sets *count.
func deliverCount(n int, null bool, count *uint) (bool, error) {
	need := uint(n)
	if null {
		*count = need
		return false, nil
	}
	if *count < need {
		*count = need
		return false, CKR_BUFFER_TOO_SMALL
	}
	*count = need
	return true, nil
}

// padCopy fills a fixed-width PKCS#11 string field: s truncated to the field
// without splitting a UTF-8 sequence, then blanks.
func padCopy(dst []byte, s string) {
	n := copy(dst, s)
	if n < len(s) {
		// Back up to the start of a rune that fits entirely.
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
	}
	for i := n; i < len(dst); i++ {
		dst[i] = ' '
	}
}
