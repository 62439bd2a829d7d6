package pkcs11mod

import (
	"bytes"
	"errors"
	"testing"
)

func TestFillTemplate(t *testing.T) {
	unavailable := CK_UNAVAILABLE_INFORMATION
	type entry struct {
		null     bool
		capacity uint
		result   AttributeResult
		wantSize uint
		wantVal  string
	}
	ok := func(v string) AttributeResult { return AttributeResult{Value: []byte(v)} }
	sensitive := AttributeResult{Err: CKR_ATTRIBUTE_SENSITIVE}
	invalid := AttributeResult{Err: CKR_ATTRIBUTE_TYPE_INVALID}
	tests := []struct {
		name    string
		entries []entry
		wantErr error
	}{
		{"all lengths", []entry{
			{null: true, result: ok("label"), wantSize: 5},
			{null: true, result: ok(""), wantSize: 0},
		}, nil},
		{"all values", []entry{
			{capacity: 5, result: ok("label"), wantSize: 5, wantVal: "label"},
			{capacity: 100, result: ok("xy"), wantSize: 2, wantVal: "xy"},
			{capacity: 0, result: ok(""), wantSize: 0},
		}, nil},
		{"short buffer", []entry{
			{capacity: 4, result: ok("label"), wantSize: unavailable},
			{capacity: 2, result: ok("xy"), wantSize: 2, wantVal: "xy"},
		}, CKR_BUFFER_TOO_SMALL},
		{"type invalid beats short buffer, all processed", []entry{
			{capacity: 4, result: ok("label"), wantSize: unavailable},
			{capacity: 9, result: invalid, wantSize: unavailable},
			{null: true, result: ok("abc"), wantSize: 3},
			{capacity: 3, result: ok("abc"), wantSize: 3, wantVal: "abc"},
		}, CKR_ATTRIBUTE_TYPE_INVALID},
		{"sensitive beats type invalid and short buffer", []entry{
			{capacity: 1, result: ok("label"), wantSize: unavailable},
			{capacity: 9, result: invalid, wantSize: unavailable},
			{null: true, result: sensitive, wantSize: unavailable},
			{capacity: 8, result: ok("ok"), wantSize: 2, wantVal: "ok"},
		}, CKR_ATTRIBUTE_SENSITIVE},
		{"wrapped per-attribute errors", []entry{
			{null: true, result: AttributeResult{Err: errorsJoin(CKR_ATTRIBUTE_SENSITIVE)}, wantSize: unavailable},
		}, CKR_ATTRIBUTE_SENSITIVE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slots := make([]attrSlot, len(tc.entries))
			results := make([]AttributeResult, len(tc.entries))
			sizes := make([]uint, len(tc.entries))
			for i, e := range tc.entries {
				sizes[i] = e.capacity
				if e.null {
					sizes[i] = 4242
				} else {
					slots[i].buf = make([]byte, e.capacity)
				}
				slots[i].null = e.null
				slots[i].size = &sizes[i]
				results[i] = e.result
			}
			err := fillTemplate(slots, results)
			if err != tc.wantErr {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			for i, e := range tc.entries {
				if sizes[i] != e.wantSize {
					t.Errorf("entry %d: ulValueLen = %#x, want %#x", i, sizes[i], e.wantSize)
				}
				if e.wantVal != "" && string(slots[i].buf[:sizes[i]]) != e.wantVal {
					t.Errorf("entry %d: value = %q, want %q", i, slots[i].buf[:sizes[i]], e.wantVal)
				}
			}
		})
	}
}

func errorsJoin(e error) error { return errors.Join(errors.New("object 7"), e) }

func TestFillTemplateOtherErrors(t *testing.T) {
	size := uint(0)
	boom := errors.New("boom")
	err := fillTemplate([]attrSlot{{null: true, size: &size}}, []AttributeResult{{Err: boom}})
	if err != boom {
		t.Errorf("err = %v, want the backend's error", err)
	}
	if err := fillTemplate([]attrSlot{{null: true, size: &size}}, nil); err == nil {
		t.Error("a result count mismatch must fail")
	}
}

func TestAttributeValues(t *testing.T) {
	a := Attribute{Type: CKA_CLASS, Value: ULongValue(uint(CKO_PRIVATE_KEY))}
	if v, err := a.ULong(); err != nil || v != uint(CKO_PRIVATE_KEY) {
		t.Errorf("ULong = %d, %v", v, err)
	}
	if len(a.Value) != 8 {
		t.Errorf("CK_ULONG encoding is %d bytes, want 8", len(a.Value))
	}
	if _, err := (Attribute{Value: []byte{1, 2}}).ULong(); err != CKR_ATTRIBUTE_VALUE_INVALID {
		t.Errorf("short CK_ULONG: err = %v", err)
	}
	for _, b := range []bool{true, false} {
		got, err := Attribute{Value: BoolValue(b)}.Bool()
		if err != nil || got != b {
			t.Errorf("Bool(%v) = %v, %v", b, got, err)
		}
	}
	if _, err := (Attribute{Value: nil}).Bool(); err != CKR_ATTRIBUTE_VALUE_INVALID {
		t.Errorf("empty CK_BBOOL: err = %v", err)
	}
}

func TestMatches(t *testing.T) {
	obj := map[AttributeType][]byte{
		CKA_CLASS: ULongValue(uint(CKO_CERTIFICATE)),
		CKA_LABEL: []byte("me"),
		CKA_VALUE: bytes.Repeat([]byte{0x30}, 1500),
	}
	tests := []struct {
		name string
		tmpl []Attribute
		want bool
	}{
		{"empty template", nil, true},
		{"class", []Attribute{{CKA_CLASS, ULongValue(uint(CKO_CERTIFICATE))}}, true},
		{"wrong class", []Attribute{{CKA_CLASS, ULongValue(uint(CKO_PRIVATE_KEY))}}, false},
		{"label with NUL (NSS retries so) does not match", []Attribute{{CKA_LABEL, []byte("me\x00")}}, false},
		{"large value", []Attribute{{CKA_VALUE, bytes.Repeat([]byte{0x30}, 1500)}}, true},
		{"absent attribute", []Attribute{{CKA_ID, []byte{1}}}, false},
		{"vendor attribute", []Attribute{{CKA_TRUST_SERVER_AUTH, ULongValue(1)}}, false},
	}
	for _, tc := range tests {
		if got := Matches(tc.tmpl, obj); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
