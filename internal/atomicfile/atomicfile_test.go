package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAndRemoveStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	for _, content := range []string{"one", "two"} {
		if err := Write(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("read %q %v, want %q", b, err, content)
		}
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// what a writer killed before its rename leaves behind
	stale := filepath.Join(dir, tempPrefix+"f.json.123")
	other := filepath.Join(dir, tempPrefix+"g.json.123")
	os.WriteFile(stale, []byte("half"), 0o600)
	os.WriteFile(other, []byte("not ours"), 0o600)
	if err := RemoveStale(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temporary file kept")
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("another file's temporary file removed")
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
