// Package dn prints X.509 distinguished names the way people read them
// (RFC 4514 string order, with names for the attributes a Dogtag CA puts
// in subjects). crypto/x509/pkix knows only the RFC 5280 basics and prints
// UID, DC and emailAddress as dotted OIDs with hex-encoded DER, which is
// what a user of a CoolKey card would see for every Dogtag certificate.
package dn

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// attributeNames are the short names of RFC 4514 §3, RFC 4519 and the
// PKCS #9 email attribute (OpenSSL's spelling).
var attributeNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.17":                   "postalCode",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.46":                   "dnQualifier",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
}

// Subject prints a certificate's subject.
func Subject(c *x509.Certificate) string { return String(c.RawSubject, c.Subject) }

// Issuer prints a certificate's issuer.
func Issuer(c *x509.Certificate) string { return String(c.RawIssuer, c.Issuer) }

// String prints the DER name raw, most specific attribute first. A name
// that does not parse (crypto/x509 accepted it, so this is rare) falls back
// to parsed's own String.
func String(raw []byte, parsed pkix.Name) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) > 0 {
		return parsed.String()
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAttribute(&b, atv)
		}
	}
	return b.String()
}

func writeAttribute(b *strings.Builder, atv pkix.AttributeTypeAndValue) {
	oid := atv.Type.String()
	name, known := attributeNames[oid]
	if !known {
		name = oid
	}
	b.WriteString(name)
	b.WriteByte('=')
	// encoding/asn1 turns every string type it knows into a Go string;
	// anything else (or an unknown attribute, per RFC 4514 §2.4) is
	// printed as '#' and the hex of its DER.
	if s, ok := atv.Value.(string); ok && known && utf8.ValidString(s) {
		b.WriteString(escape(s))
		return
	}
	der, err := asn1.Marshal(atv.Value)
	if err != nil {
		b.WriteString("#")
		return
	}
	b.WriteByte('#')
	b.WriteString(hex.EncodeToString(der))
}

// escape applies RFC 4514 §2.4 to a string value; control characters are
// escaped as hex too, so a hostile certificate cannot write to a terminal.
func escape(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(`,+"\<>;`, r),
			r == ' ' && (i == 0 || i == len(s)-1),
			r == '#' && i == 0:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r >= 0x7f && r < 0xa0:
			for _, c := range []byte(string(r)) {
				b.WriteString(`\` + hex.EncodeToString([]byte{c}))
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
