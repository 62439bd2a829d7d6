package esc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DiagLog is the diagnostics log: one line per event (card inserted or
// removed, operation started, succeeded or failed with its code, TPS
// errors, lost connections). Callers pass only non-secret fields; values
// are quoted so that a hostile reader name or server message cannot forge
// lines.
type DiagLog struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// maxLogSize is where the log is rotated (to esc.log.1).
const maxLogSize = 1 << 20

// OpenDiagLog returns the log at path (created on first write).
func OpenDiagLog(path string) *DiagLog { return &DiagLog{path: path, now: time.Now} }

// Path returns the log file's path.
func (l *DiagLog) Path() string { return l.path }

// Event appends "time event key=value…". A nil log drops it.
func (l *DiagLog) Event(event string, kv ...any) {
	if l == nil {
		return
	}
	var b strings.Builder
	b.WriteString(l.now().UTC().Format(time.RFC3339))
	b.WriteByte(' ')
	b.WriteString(event)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%s", kv[i], quoteIfNeeded(fmt.Sprint(kv[i+1])))
	}
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return
	}
	if st, err := os.Stat(l.path); err == nil && st.Size() > maxLogSize {
		os.Rename(l.path, l.path+".1")
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.WriteString(b.String())
	f.Close()
}

func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, c := range s {
		if c <= ' ' || c == '"' || c == '=' || c > '~' {
			return strconv.Quote(s)
		}
	}
	return s
}

// Tail returns up to n of the last lines.
func (l *DiagLog) Tail(n int) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines, sc.Err()
}
