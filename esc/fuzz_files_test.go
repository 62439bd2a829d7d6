package esc

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig: the configuration file is the user's to edit. Whatever it
// holds, loading returns a configuration or an error; what loads validates
// or not, answers its getters, and saves to a file that loads again.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"tpsURL":"https://tps.example.com:8443/tps/tps","messageTimeoutSeconds":90,"hideFormat":true,"cards":{"40907a0100abcdef0123":{"phoneHomeURL":"http://ph/","issuerName":"x","services":[{"Name":"operation","Value":"https://t/tps/tps"}],"fetched":"2024-01-01T00:00:00Z"}}}`))
	f.Add([]byte(`{"tpsURL":"ftp://x","globalPhoneHomeURL":"http://%zz","messageTimeoutSeconds":-5}`))
	f.Add([]byte(`{"cards":{"":null}}`))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "esc.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path)
		if err != nil {
			return
		}
		c.Validate()
		c.MessageTimeout()
		c.Card("40907a0100abcdef0123")
		if err := c.Save(); err != nil {
			return // a value JSON cannot write back (NaN cannot come in)
		}
		if _, err := LoadConfig(path); err != nil {
			t.Fatalf("a saved configuration does not load: %v", err)
		}
	})
}

// FuzzParseCertificates: trust bundles and --ca files are PEM written by
// anyone.
func FuzzParseCertificates(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := ParseCertificates(b)
		if err == nil {
			for _, c := range certs {
				if c == nil {
					t.Fatal("nil certificate without an error")
				}
			}
		}
	})
}

// FuzzReaderBusy: the busy marker of a reader is a file another process
// wrote; while it is locked, its contents are read and must not be
// trusted (a CUID that is not 20 hex digits is dropped).
func FuzzReaderBusy(f *testing.F) {
	f.Add([]byte(`{"cuid":"40907a0100abcdef0123","op":"enroll","pid":42}`))
	f.Add([]byte(`{"cuid":"../../etc","op":"\u0000","pid":-1}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		reader := "Fuzz Reader 00"
		lf, err := os.OpenFile(lockPath(dir, reader), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer lf.Close()
		if err := tryLock(lf); err != nil {
			t.Skip("no file locks here")
		}
		lf.WriteAt(b, 0)
		info, busy := readerBusy(dir, reader)
		if !busy {
			t.Fatal("a locked reader is not busy")
		}
		if info.CUID != "" && !isHex20(info.CUID) {
			t.Fatalf("CUID %q passed through", info.CUID)
		}
	})
}

// FuzzDiagTail: the diagnostics log is read back for the user; any file
// contents give lines or an error.
func FuzzDiagTail(f *testing.F) {
	f.Add([]byte("2024-01-01T00:00:00Z op-start op=enroll\n"), 3)
	f.Add([]byte("no newline at the end"), 1)
	f.Add([]byte("\n\n\n"), 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		path := filepath.Join(t.TempDir(), "esc.log")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		lines, err := OpenDiagLog(path).Tail(n)
		if err == nil && len(lines) > n {
			t.Fatalf("%d lines for Tail(%d)", len(lines), n)
		}
	})
}
