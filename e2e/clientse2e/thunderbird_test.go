package clientse2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/e2e/marionette"
	"github.com/coolkey-go/coolkey-go/e2e/smtpsink"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

const thunderbirdBin = "thunderbird"

// nssDBKey is the key NSS-based Mozilla code (nsIX509Cert.dbKey) uses for
// a certificate, as Thunderbird stores it in mail.identity.*.
// signing_cert_dbkey: base64 of 4 zero bytes (module), 4 zero bytes
// (slot), the big-endian lengths of the serial number and of the issuer
// name, then the serial number's DER contents and the issuer's DER.
func nssDBKey(t testing.TB, cert *x509.Certificate) string {
	t.Helper()
	serialDER, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(serialDER, &raw); err != nil {
		t.Fatal(err)
	}
	serial := raw.Bytes
	var b bytes.Buffer
	b.Write(make([]byte, 8))
	binary.Write(&b, binary.BigEndian, uint32(len(serial)))
	binary.Write(&b, binary.BigEndian, uint32(len(cert.RawIssuer)))
	b.Write(serial)
	b.Write(cert.RawIssuer)
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// thunderbirdPrefs configures one POP3 account that never fetches mail,
// Local Folders, an identity alice@example.org that signs every message
// with the card's signing certificate (S/MIME), and the SMTP sink as the
// outgoing server without authentication.
func thunderbirdPrefs(t testing.TB, c *card, smtpPort int) map[string]any {
	t.Helper()
	const nick = testUser + ":signing key for " + testUser // token label : CKA_LABEL
	return map[string]any{
		"mail.accountmanager.accounts":           "account1,account2",
		"mail.accountmanager.defaultaccount":     "account1",
		"mail.accountmanager.localfoldersserver": "server2",
		"mail.account.account1.server":           "server1",
		"mail.account.account1.identities":       "id1",
		"mail.server.server1.type":               "pop3",
		"mail.server.server1.hostname":           "127.0.0.1",
		"mail.server.server1.port":               9,
		"mail.server.server1.userName":           testUser,
		"mail.server.server1.name":               testUser + "@example.org",
		"mail.server.server1.login_at_startup":   false,
		"mail.server.server1.check_new_mail":     false,
		"mail.server.server1.download_on_biff":   false,
		"mail.server.server1.directory-rel":      "[ProfD]Mail/pop",
		"mail.account.account2.server":           "server2",
		"mail.server.server2.type":               "none",
		"mail.server.server2.hostname":           "Local Folders",
		"mail.server.server2.userName":           "nobody",
		"mail.server.server2.name":               "Local Folders",
		"mail.server.server2.directory-rel":      "[ProfD]Mail/Local Folders",
		"mail.identity.id1.fullName":             "Alice",
		"mail.identity.id1.useremail":            testUser + "@example.org",
		"mail.identity.id1.valid":                true,
		"mail.identity.id1.smtpServer":           "smtp1",
		"mail.identity.id1.fcc":                  false,
		"mail.identity.id1.sign_mail":            true,
		"mail.identity.id1.encryptionpolicy":     0,
		"mail.identity.id1.signing_cert_name":    nick,
		"mail.identity.id1.signing_cert_dbkey":   nssDBKey(t, c.certs[1]),
		"mail.smtpservers":                       "smtp1",
		"mail.smtp.defaultserver":                "smtp1",
		"mail.smtpserver.smtp1.hostname":         "127.0.0.1",
		"mail.smtpserver.smtp1.port":             smtpPort,
		"mail.smtpserver.smtp1.authMethod":       1, // none
		"mail.smtpserver.smtp1.try_ssl":          0, // plain
		"mail.smtpserver.smtp1.description":      "smtpsink",
		"mailnews.sendInBackground":              false,
		"mail.compose.autosave":                  false,
		"mail.spellcheck.inline":                 false,
		"mail.SpellCheckBeforeSend":              false,
		"mail.warn_on_send_accel_key":            false,
		"mail.biff.show_alert":                   false,
		"mail.winsearch.enable":                  false,
		"mailnews.auto_config_url":               "http://127.0.0.1:9/",
		"mail.cloud_files.enabled":               false,
		"mail.inline_attachments":                false,
	}
}

// composeAndSendScript opens Thunderbird's compose window for a new
// plain-text message from the given identity, waits until the window has
// loaded, and presses Send (SendMessage, what the Send button runs). It
// resolves with the compose window's security state, or an error string.
const composeAndSendScript = `
const [to, subject, body, identityKey, resolve] = arguments;
(async () => {
  const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
  const params = Cc["@mozilla.org/messengercompose/composeparams;1"].createInstance(Ci.nsIMsgComposeParams);
  const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
  fields.to = to;
  fields.subject = subject;
  fields.body = body;
  params.type = Ci.nsIMsgCompType.New;
  params.format = Ci.nsIMsgCompFormat.PlainText;
  params.identity = MailServices.accounts.getIdentity(identityKey);
  params.composeFields = fields;
  MailServices.compose.OpenComposeWindowWithParams(null, params);
  let win = null;
  for (let i = 0; i < 600; i++) {
    win = Services.wm.getMostRecentWindow("msgcompose");
    if (win && win.gLoadingComplete && win.gMsgCompose) {
      break;
    }
    win = null;
    await new Promise(r => setTimeout(r, 50));
  }
  if (!win) {
    throw new Error("the compose window did not load");
  }
  const state = {
    signed: win.gSendSigned,
    encrypted: win.gSendEncrypted,
    pgp: win.gSelectedTechnologyIsPGP,
  };
  await win.SendMessage();
  return state;
})().then(resolve, e => resolve({ error: String(e) + "\n" + (e.stack || "") }));
`

// Thunderbird itself signs a message with the card's key (S/MIME, its PIN
// typed into Thunderbird's own prompt) and sends it through its SMTP code
// to a local sink; OpenSSL verifies the signature against the test CA.
func TestThunderbirdSignedSend(t *testing.T) {
	needTools(t, thunderbirdBin, "certutil", "modutil", "openssl")
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveVPCD(t, c)
	thunderbirdSend(t, c, tr)
}

func thunderbirdSend(t *testing.T, c *card, tr *transport) {
	mod := module(t)
	sink, err := smtpsink.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })

	profile := newProfileDir(t)
	nssProfile(t, profile, mod, tr, c.caPEM())
	prefs, err := marionette.ProfilePrefs(thunderbirdPrefs(t, c, sink.Addr().Port))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(profile, "user.js"), []byte(prefs))

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	app, err := marionette.Launch(ctx, marionette.LaunchOptions{
		Binary: thunderbirdBin, Profile: profile, Env: tr.env,
		Caps: marionette.Capabilities{PageLoadStrategy: "none", UnhandledPromptBehavior: "ignore"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		app.Close()
		if t.Failed() || testing.Verbose() {
			t.Logf("%s output:\n%s", thunderbirdBin, appOutput(app.Output()))
		}
	})
	if err := app.ArmPasswordPrompt(ctx, testPIN, 1); err != nil {
		t.Fatal(err)
	}
	body := "Signed by the card through Thunderbird.\n"
	if err := app.SetContext(ctx, "chrome"); err != nil {
		t.Fatal(err)
	}
	var state json.RawMessage
	if err := app.ExecuteAsyncScript(ctx, composeAndSendScript,
		[]any{"bob@example.org", "coolkey-go S/MIME test", body, "id1"}, 90*time.Second, &state); err != nil {
		t.Fatalf("compose and send: %v", err)
	}
	t.Logf("compose window state: %s", state)
	if err := app.SetContext(ctx, "content"); err != nil {
		t.Fatal(err)
	}

	var msg smtpsink.Message
	select {
	case msg = <-sink.Messages:
	case <-ctx.Done():
		if text, err := app.AlertText(context.Background()); err == nil {
			t.Fatalf("Thunderbird shows a prompt: %q", text)
		}
		t.Fatal("no message reached the SMTP sink")
	}
	prompts, err := app.PasswordPrompts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Thunderbird password prompts: %q", prompts)
	if len(prompts) != 1 || !strings.Contains(prompts[0], testUser) {
		t.Errorf("password prompts %q, want one for token %q", prompts, testUser)
	}
	t.Logf("SMTP envelope %s -> %v, %d bytes", msg.From, msg.To, len(msg.Data))
	if msg.From != testUser+"@example.org" || len(msg.To) != 1 || msg.To[0] != "bob@example.org" {
		t.Errorf("envelope %s -> %v", msg.From, msg.To)
	}
	eml := writeFile(t, filepath.Join(t.TempDir(), "signed.eml"), msg.Data)
	if !bytes.Contains(msg.Data, []byte("multipart/signed")) || !bytes.Contains(msg.Data, []byte("application/pkcs7-signature")) {
		t.Fatalf("the message is not S/MIME signed:\n%s", clip(string(msg.Data)))
	}
	dir := t.TempDir()
	signer := filepath.Join(dir, "signer.pem")
	content := filepath.Join(dir, "content.txt")
	out := mustRun(t, nil, "openssl", "cms", "-verify", "-in", eml, "-CAfile", c.caPEM(),
		"-purpose", "smimesign", "-signer", signer, "-out", content)
	if !strings.Contains(out, "Verification successful") {
		t.Errorf("openssl cms -verify: %s", out)
	}
	if got := readCert(t, signer); !got.Equal(c.certs[1]) {
		t.Errorf("signed by %v (serial %x), want the card's signing certificate", got.Subject, got.SerialNumber)
	}
	if text := mimeText(t, mustRead(t, content)); !strings.Contains(text, strings.TrimSpace(body)) {
		t.Errorf("signed content lacks the body: %q", text)
	}
}

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b := mustRead(t, path)
	if blk, _ := pemDecode(b); blk != nil {
		b = blk
	}
	cert, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

// The same on the socket transport with an EC card (ECDSA signature).
func TestThunderbirdSignedSendEC(t *testing.T) {
	needTools(t, thunderbirdBin, "certutil", "modutil", "openssl")
	c := newCard(t, false, provision.KeySpec("ec256"), provision.KeySpec("ec256"))
	thunderbirdSend(t, c, serveSocket(t, c))
}

// mimeText decodes a single-part MIME entity (headers, blank line, body in
// 7bit, quoted-printable or base64) to its text.
func mimeText(t testing.TB, entity []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(entity))
	if err != nil {
		t.Fatalf("signed content is not a MIME entity: %v\n%s", err, entity)
	}
	var r io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, m.Body)
	case "quoted-printable":
		r = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
