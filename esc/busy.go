package esc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
)

// busyInfo is written into a reader's lock file while an operation runs,
// so that `coolkey status` in another process can say BUSY (and which
// card) without waiting for the card, which the operation holds.
type busyInfo struct {
	CUID string `json:"cuid"`
	Op   string `json:"op"`
	PID  int    `json:"pid"`
}

func lockPath(runtimeDir, reader string) string {
	h := sha256.Sum256([]byte(reader))
	return filepath.Join(runtimeDir, "busy-"+hex.EncodeToString(h[:8])+".lock")
}

// lockReader marks reader busy for this process. It fails when another
// operation holds it.
func lockReader(runtimeDir, reader string, info busyInfo) (unlock func(), err error) {
	if err := os.MkdirAll(runtimeDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(lockPath(runtimeDir, reader), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := tryLock(f); err != nil {
		f.Close()
		return nil, errBusy
	}
	b, _ := json.Marshal(info)
	f.Truncate(0)
	f.WriteAt(b, 0)
	return func() {
		f.Truncate(0)
		unlockFile(f)
		f.Close()
	}, nil
}

// readerBusy reports whether an operation holds reader.
func readerBusy(runtimeDir, reader string) (busyInfo, bool) {
	f, err := os.Open(lockPath(runtimeDir, reader))
	if err != nil {
		return busyInfo{}, false
	}
	defer f.Close()
	if err := tryLockShared(f); err == nil {
		unlockFile(f)
		return busyInfo{}, false
	}
	var info busyInfo
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	json.Unmarshal(b[:n], &info)
	if !isHex20(info.CUID) {
		info.CUID = ""
	}
	return info, true
}

func isHex20(s string) bool {
	if len(s) != 20 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
