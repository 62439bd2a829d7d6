package vcard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageRoundTrip(t *testing.T) {
	img := testImage(t)
	img.Comment = "test card"
	b, err := img.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseImage(b)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCard(t, parsed, Options{})
	again, err := c.Image().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Fatalf("image changed through a card:\n%s\n---\n%s", b, again)
	}
	for _, secret := range []string{"1234", "31323334", "MTIzNA"} {
		if bytes.Contains(b, []byte(`"`+secret+`"`)) {
			t.Fatalf("PIN %s in clear in the image", secret)
		}
	}
}

func TestImageValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"format", func(m map[string]any) { m["format"] = 2 }, "format"},
		{"unknown field", func(m map[string]any) { m["colour"] = "red" }, "unknown field"},
		{"ATR", func(m map[string]any) { m["atr"] = "00" }, "ATR"},
		{"CPLC", func(m map[string]any) { m["cplc"] = "0102" }, "CPLC"},
		{"hex", func(m map[string]any) { m["cplc"] = "zz" }, "hex"},
		{"SCP", func(m map[string]any) { cm(m)["scp"] = "04" }, "protocol"},
		{"key set", func(m map[string]any) { cm(m)["key_sets"].([]any)[0].(map[string]any)["enc"] = "0102" }, "key"},
		{"package version", func(m map[string]any) { m["package"].(map[string]any)["version"] = "1" }, "version"},
		{"applet without package", func(m map[string]any) { m["package"] = nil }, "package"},
		{"heap", func(m map[string]any) { ap(m)["heap_size"] = 100 }, "heap"},
		{"PIN tries", func(m map[string]any) { ap(m)["pins"].([]any)[0].(map[string]any)["tries_left"] = 9 }, "tries"},
		{"PIN kdf", func(m map[string]any) { ap(m)["pins"].([]any)[0].(map[string]any)["kdf"] = "plain" }, "hash"},
		{"PIN in clear", func(m map[string]any) { ap(m)["pins"].([]any)[0].(map[string]any)["pin"] = "1234" }, "unknown field"},
		{"key type", func(m map[string]any) { ap(m)["keys"].([]any)[0].(map[string]any)["type"] = "rsa-public" }, "spki"},
		{"key bits", func(m map[string]any) { ap(m)["keys"].([]any)[0].(map[string]any)["bits"] = 2048 }, "match"},
		{"key number", func(m map[string]any) { ap(m)["keys"].([]any)[1].(map[string]any)["number"] = 2 }, "repeated"},
		{"object twice", func(m map[string]any) {
			objs := ap(m)["objects"].([]any)
			ap(m)["objects"] = append(objs, objs[0])
		}, "twice"},
		{"object ID", func(m map[string]any) { ap(m)["objects"].([]any)[0].(map[string]any)["id"] = "z" }, "object ID"},
		{"I/O buffer object", func(m map[string]any) { ap(m)["objects"].([]any)[0].(map[string]any)["id"] = "FFFFFFFF" }, "I/O"},
		{"issuer info", func(m map[string]any) { ap(m)["issuer_info"] = strings.Repeat("x", 225) }, "issuer"},
	}
	b, err := testImage(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tc.mutate(m)
			mb, _ := json.Marshal(m)
			_, err := ParseImage(mb)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseImage: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func cm(m map[string]any) map[string]any { return m["card_manager"].(map[string]any) }
func ap(m map[string]any) map[string]any { return m["applet"].(map[string]any) }

func TestHeapOverflowInImage(t *testing.T) {
	img := testImage(t)
	img.Applet.Objects = append(img.Applet.Objects, ObjectImage{ID: ObjectID(0x64390000), ACL: TPSObjectACL, Data: make([]byte, 4700)})
	if err := img.Validate(); err == nil || !strings.Contains(err.Error(), "heap") {
		t.Fatalf("Validate: %v", err)
	}
}

// TestPersistence checks what reaches the file: PIN tries after a wrong PIN
// and after a good one, objects, nothing for operations that change only
// volatile state.
func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	if err := WriteImage(path, testImage(t)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("image file mode: %v %v", fi.Mode(), err)
	}
	img, err := FileStore{Path: path}.Load()
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingStore{}
	c := newTestCard(t, img, Options{Store: multiStore{FileStore{Path: path}, counting}})
	mustOK(t, c, selectCoolKey)
	nonce := mustOK(t, c, "B0 42 00 00 04 31323334")
	mustOK(t, c, "B0 3C 00 00 10")
	mustOK(t, c, "B0 56 00 00 11 7A300000 00000000 10 "+bytesHex(nonce))
	block := pkcs1Block(t, []byte("x"), 128)
	if _, sw := tx(t, c, cmd(0xB0, 0x36, 2, 4, []byte{0, 3, 1, 0, 128}, block, nonce)); sw != 0x9000 {
		t.Fatal(sw)
	}
	if counting.saves != 0 {
		t.Fatalf("%d saves for commands that change nothing persistent", counting.saves)
	}
	if _, sw := txHex(t, c, "B0 42 00 00 04 39393939"); sw != 0x9C02 {
		t.Fatal(sw)
	}
	reloaded, err := LoadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := reloaded.Applet.PINs[0].TriesLeft; got != 2 {
		t.Fatalf("tries left in the file: %d, want 2", got)
	}
	mustOK(t, c, "B0 42 00 00 04 31323334")
	reloaded, _ = LoadImage(path)
	if got := reloaded.Applet.PINs[0].TriesLeft; got != 3 {
		t.Fatalf("tries left after a good PIN: %d, want 3", got)
	}
	if counting.saves != 2 {
		t.Fatalf("%d saves, want 2", counting.saves)
	}
	// A fresh card from the file still knows the PIN.
	c2 := newTestCard(t, reloaded, Options{})
	mustOK(t, c2, selectCoolKey)
	mustOK(t, c2, "B0 42 00 00 04 31323334")
}

type multiStore []Store

func (m multiStore) Save(img *Image) error {
	for _, s := range m {
		if err := s.Save(img); err != nil {
			return err
		}
	}
	return nil
}

type failingStore struct{}

func (failingStore) Save(*Image) error { return os.ErrPermission }

func TestStoreFailure(t *testing.T) {
	c := newTestCard(t, testImage(t), Options{Store: failingStore{}})
	mustOK(t, c, selectCoolKey)
	resp, err := c.Transmit(unhex(t, "B0 42 00 00 04 39393939"))
	if err == nil || !bytes.Equal(resp, []byte{0x65, 0x81}) {
		t.Fatalf("response % X, error %v", resp, err)
	}
}

// TestDocumentedExample loads the example of IMAGE.md.
func TestDocumentedExample(t *testing.T) {
	img, err := LoadImage(filepath.Join("testdata", "example-formatted.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCard(t, img, Options{})
	mustOK(t, c, selectCoolKey)
	if got := mustOK(t, c, "B0 F2 00 00 04"); !bytes.Equal(got, []byte{0x07, 0, 1, 1}) {
		t.Fatalf("life cycle % X", got)
	}
	doc, err := os.ReadFile("IMAGE.md")
	if err != nil {
		t.Fatal(err)
	}
	example, _ := os.ReadFile(filepath.Join("testdata", "example-formatted.json"))
	if !bytes.Contains(doc, example) {
		t.Fatal("testdata/example-formatted.json differs from the example in IMAGE.md")
	}
}
