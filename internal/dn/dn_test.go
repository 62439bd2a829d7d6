package dn

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidUID   = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidOther = asn1.ObjectIdentifier{1, 2, 3, 4}
)

func rdn(atvs ...pkix.AttributeTypeAndValue) pkix.RelativeDistinguishedNameSET { return atvs }

func atv(t asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: t, Value: v}
}

func TestString(t *testing.T) {
	tests := []struct {
		name string
		seq  pkix.RDNSequence
		want string
	}{
		{
			name: "Dogtag user certificate",
			seq: pkix.RDNSequence{
				rdn(atv(oidDC, "com")), rdn(atv(oidDC, "example")), rdn(atv(oidO, "Example")),
				rdn(atv(oidUID, "jdoe")), rdn(atv(oidEmail, "jdoe@example.com")), rdn(atv(oidCN, "John Doe")),
			},
			want: "CN=John Doe,emailAddress=jdoe@example.com,UID=jdoe,O=Example,DC=example,DC=com",
		},
		{
			name: "multi-valued RDN",
			seq:  pkix.RDNSequence{rdn(atv(oidO, "Example")), rdn(atv(oidCN, "a"), atv(oidUID, "b"))},
			want: "CN=a+UID=b,O=Example",
		},
		{
			name: "RFC 4514 escapes",
			seq:  pkix.RDNSequence{rdn(atv(oidCN, ` #Doe, "J" <x>;a+b\ `))},
			want: `CN=\ #Doe\, \"J\" \<x\>\;a\+b\\\ `,
		},
		{
			name: "leading hash",
			seq:  pkix.RDNSequence{rdn(atv(oidCN, "#1"))},
			want: `CN=\#1`,
		},
		{
			name: "control characters cannot reach a terminal",
			seq:  pkix.RDNSequence{rdn(atv(oidCN, "a\x1b[2Jb\u0085"))},
			want: `CN=a\1b[2Jb\c2\85`,
		},
		{
			name: "unknown attribute as hex DER",
			seq:  pkix.RDNSequence{rdn(atv(oidOther, "x"))},
			want: "1.2.3.4=#130178",
		},
		{
			name: "non-string value as hex DER",
			seq:  pkix.RDNSequence{rdn(atv(oidCN, 5))},
			want: "CN=#020105",
		},
		{name: "empty", seq: pkix.RDNSequence{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := asn1.Marshal(tt.seq)
			if err != nil {
				t.Fatal(err)
			}
			if got := String(raw, pkix.Name{}); got != tt.want {
				t.Errorf("String = %q\n          want %q", got, tt.want)
			}
		})
	}
}

func TestStringFallsBackOnGarbage(t *testing.T) {
	n := pkix.Name{CommonName: "fallback"}
	for _, raw := range [][]byte{nil, {0x30}, {0x30, 0x00, 0x00}, {0x04, 0x01, 0x00}} {
		if got := String(raw, n); got != "CN=fallback" {
			t.Errorf("String(%x) = %q, want the parsed name's", raw, got)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	seq, _ := asn1.Marshal(pkix.RDNSequence{rdn(atv(oidUID, "jdoe"), atv(oidCN, "x,y"))})
	f.Add(seq)
	f.Fuzz(func(t *testing.T, raw []byte) {
		String(raw, pkix.Name{})
	})
}
