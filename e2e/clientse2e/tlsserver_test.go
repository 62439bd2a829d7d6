package clientse2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/internal/testca"
)

// serverFiles are a TLS server certificate and key issued by the test CA
// for 127.0.0.1 and localhost.
type serverFiles struct{ cert, key string }

func issueServer(t testing.TB, ca *testca.CA, dir string) serverFiles {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer([]string{"localhost", "127.0.0.1"}, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := serverFiles{cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key")}
	writeFile(t, f.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	writeFile(t, f.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	return f
}

// sServer is `openssl s_server` requiring a client certificate issued by
// the test CA, serving its status page (-www), which echoes the client
// certificate in PEM, and tracing the handshake (-trace) so the test sees
// the client's CertificateVerify signature algorithm.
type sServer struct {
	URL            string
	Addr           string // 127.0.0.1:port
	Port           string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
}

// syncBuffer is a bytes.Buffer a child process writes to while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Output is what the server printed so far (stderr, then stdout).
func (s *sServer) Output() string { return s.stderr.String() + s.stdout.String() }

// Handshake returns what the server logged about the client: the subject
// of the certificate it verified and the CertificateVerify algorithm. It
// waits up to five seconds for both to appear.
func (s *sServer) Handshake() (subject, sigAlg string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		subject, sigAlg = parseServerLog(s.stdout.String(), s.stderr.String())
		if subject != "" && sigAlg != "" || time.Now().After(deadline) {
			return subject, sigAlg
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startSServer starts the server with the given protocol flag (-tls1_2,
// -tls1_3) and extra options.
func startSServer(t testing.TB, files serverFiles, caPEM, version string, extra ...string) *sServer {
	t.Helper()
	port := freePort(t)
	args := append([]string{"s_server", "-accept", "127.0.0.1:" + strconv.Itoa(port),
		"-cert", files.cert, "-key", files.key, "-CAfile", caPEM,
		"-Verify", "2", "-verify_return_error", version, "-www", "-trace", "-no_ticket"}, extra...)
	// stdbuf: -trace writes through stdio, which a pipe would buffer
	// past the end of the handshake.
	cmd := exec.Command("stdbuf", append([]string{"-oL", "-eL", "openssl"}, args...)...)
	s := &sServer{URL: fmt.Sprintf("https://127.0.0.1:%d/", port), Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: strconv.Itoa(port),
		cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &s.stdout, &s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.done:
			t.Fatalf("openssl s_server exited:\n%s", s.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl s_server does not listen:\n%s", s.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// parseServerLog finds, in s_server's -trace output (stdout), the
// signature algorithm of the CertificateVerify the server received — the
// client's — and, in its stderr, the verify callback's depth-0 subject.
func parseServerLog(stdout, stderr string) (subject, sigAlg string) {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "depth=0 ") {
			subject = strings.TrimSpace(strings.TrimPrefix(l, "depth=0 "))
			break
		}
	}
	received := false
	lines := strings.Split(stdout, "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "Received Record"):
			received = true
		case strings.HasPrefix(l, "Sent Record"):
			received = false
		case received && strings.Contains(l, "CertificateVerify,"):
			for _, n := range lines[i+1 : min(i+4, len(lines))] {
				if _, after, ok := strings.Cut(n, "Signature Algorithm: "); ok {
					return subject, strings.TrimSpace(after)
				}
			}
		}
	}
	return subject, ""
}

// parseStatusPage reads the protocol and the client certificate from the
// page s_server -www sends.
func parseStatusPage(page string) (version, certPEM string) {
	if i := strings.Index(page, "Client certificate"); i >= 0 {
		rest := page[i:]
		if b := strings.Index(rest, "-----BEGIN CERTIFICATE-----"); b >= 0 {
			if e := strings.Index(rest[b:], "-----END CERTIFICATE-----"); e >= 0 {
				certPEM = rest[b : b+e+len("-----END CERTIFICATE-----")]
			}
		}
	}
	for _, l := range strings.Split(page, "\n") {
		if _, after, ok := strings.Cut(l, "Protocol  : "); ok {
			version = strings.TrimSpace(after)
			break
		}
	}
	return version, certPEM
}
