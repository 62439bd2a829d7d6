package pkcs11mod

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// step is one call of a length-protocol scenario: the caller's buffer
// (NULL or of some capacity) and what must come back.
type step struct {
	null      bool
	capacity  uint
	wantErr   error
	wantSize  uint
	wantDone  bool
	wantRuns  int // total runs of the operation after this call
	wantBytes string
}

func TestProduce(t *testing.T) {
	const result = "0123456789" // 10 bytes
	runErr := errors.New("card fell over")
	tests := []struct {
		name  string
		hint  int
		fail  bool
		steps []step
	}{
		{"exact hint: query, short, exact", 10, false, []step{
			{null: true, wantSize: 10, wantRuns: 0},
			{capacity: 9, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10, wantRuns: 0},
			{capacity: 10, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"exact hint: big buffer at once", 10, false, []step{
			{capacity: 64, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"exact hint: repeated queries never run", 10, false, []step{
			{null: true, wantSize: 10},
			{null: true, wantSize: 10},
			{capacity: 0, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10},
			{capacity: 1, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10},
			{capacity: 11, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"upper-bound hint", 16, false, []step{
			{null: true, wantSize: 16},
			{capacity: 10, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 16},
			{capacity: 16, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"hint too small (backend bug): result kept, not rerun", 4, false, []step{
			{null: true, wantSize: 4},
			{capacity: 4, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10, wantRuns: 1},
			{capacity: 5, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10, wantRuns: 1},
			{null: true, wantSize: 10, wantRuns: 1},
			{capacity: 10, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"no hint: query runs once, result kept", 0, false, []step{
			{null: true, wantSize: 10, wantRuns: 1},
			{null: true, wantSize: 10, wantRuns: 1},
			{capacity: 3, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10, wantRuns: 1},
			{capacity: 10, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"no hint: short buffer first", 0, false, []step{
			{capacity: 2, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10, wantRuns: 1},
			{capacity: 100, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"no hint: zero capacity", 0, false, []step{
			{capacity: 0, wantErr: CKR_BUFFER_TOO_SMALL, wantSize: 10, wantRuns: 1},
			{capacity: 10, wantSize: 10, wantDone: true, wantRuns: 1, wantBytes: result},
		}},
		{"failure is returned and nothing kept", 0, true, []step{
			{null: true, wantErr: runErr, wantSize: 77, wantRuns: 1},
		}},
		{"failure after a hinted query", 10, true, []step{
			{null: true, wantSize: 10},
			{capacity: 10, wantErr: runErr, wantSize: 10, wantRuns: 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pending pendingOutput
			runs := 0
			run := func() ([]byte, error) {
				runs++
				if tc.fail {
					return nil, runErr
				}
				return []byte(result), nil
			}
			for i, s := range tc.steps {
				size := s.capacity
				if s.null {
					size = 77 // garbage the call must overwrite (unless it fails)
				}
				var buf []byte
				if !s.null {
					buf = make([]byte, s.capacity)
				}
				done, err := produce(&pending, stageSingle, outBuf{buf: buf, null: s.null, size: &size}, tc.hint, run)
				if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
					t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
				if size != s.wantSize {
					t.Errorf("step %d: size = %d, want %d", i, size, s.wantSize)
				}
				if done != s.wantDone {
					t.Errorf("step %d: done = %v, want %v", i, done, s.wantDone)
				}
				if runs != s.wantRuns {
					t.Errorf("step %d: runs = %d, want %d", i, runs, s.wantRuns)
				}
				if s.wantBytes != "" && string(buf[:size]) != s.wantBytes {
					t.Errorf("step %d: bytes = %q, want %q", i, buf[:size], s.wantBytes)
				}
			}
			if pending.stage != stageNone && tc.steps[len(tc.steps)-1].wantDone {
				t.Errorf("output still pending after delivery")
			}
		})
	}
}

func TestProducePendingIsPerStage(t *testing.T) {
	var pending pendingOutput
	size := uint(0)
	run := func() ([]byte, error) { return []byte("abc"), nil }
	if _, err := produce(&pending, stageUpdate, outBuf{null: true, size: &size}, 0, run); err != nil {
		t.Fatal(err)
	}
	// A different call cannot receive the kept output.
	size = 10
	_, err := produce(&pending, stageFinal, outBuf{buf: make([]byte, 10), size: &size}, 0, run)
	if err != errCallSequence || returnValue(err) != CKR_OPERATION_ACTIVE {
		t.Fatalf("err = %v, want CKR_OPERATION_ACTIVE", err)
	}
	if pending.stage != stageNone {
		t.Fatal("pending output not dropped")
	}
}

func TestDeliverCount(t *testing.T) {
	tests := []struct {
		n        int
		null     bool
		capacity uint
		wantFits bool
		wantErr  error
	}{
		{n: 3, null: true, wantFits: false},
		{n: 0, null: true, wantFits: false},
		{n: 3, capacity: 2, wantErr: CKR_BUFFER_TOO_SMALL},
		{n: 3, capacity: 0, wantErr: CKR_BUFFER_TOO_SMALL},
		{n: 3, capacity: 3, wantFits: true},
		{n: 3, capacity: 10, wantFits: true},
		{n: 0, capacity: 0, wantFits: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("n=%d null=%v cap=%d", tc.n, tc.null, tc.capacity), func(t *testing.T) {
			count := tc.capacity
			if tc.null {
				count = 12345
			}
			fits, err := deliverCount(tc.n, tc.null, &count)
			if fits != tc.wantFits || err != tc.wantErr {
				t.Errorf("got (%v, %v), want (%v, %v)", fits, err, tc.wantFits, tc.wantErr)
			}
			// The count is always the number of elements, also with
			// CKR_BUFFER_TOO_SMALL (namecoin/pkcs11mod forgot this).
			if count != uint(tc.n) {
				t.Errorf("count = %d, want %d", count, tc.n)
			}
		})
	}
}

func TestPadCopy(t *testing.T) {
	tests := []struct {
		name string
		in   string
		size int
		want string
	}{
		{"short", "SoftHSM", 10, "SoftHSM   "},
		{"empty", "", 4, "    "},
		{"exact", "abcd", 4, "abcd"},
		{"truncated", "abcdef", 4, "abcd"},
		{"two-byte rune fits", "abé", 4, "abé"},
		{"two-byte rune split", "abcé", 4, "abc "},
		{"three-byte rune split", "a€", 3, "a  "},
		{"four-byte rune split", "ab😀", 5, "ab   "},
		{"four-byte rune fits", "😀", 4, "😀"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte(strings.Repeat("x", tc.size))
			padCopy(dst, tc.in)
			if string(dst) != tc.want {
				t.Errorf("padCopy(%q) into %d = %q, want %q", tc.in, tc.size, dst, tc.want)
			}
			if !utf8.Valid(dst) {
				t.Errorf("result %q is not valid UTF-8", dst)
			}
		})
	}
}
