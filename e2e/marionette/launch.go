package marionette

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// PortFile is the file in the profile where the browser writes the port it
// listens on when the marionette.port preference is 0.
const PortFile = "MarionetteActivePort"

// App is a running Firefox or Thunderbird driven through Marionette.
type App struct {
	*Client
	Cmd     *exec.Cmd
	Profile string

	mu     sync.Mutex
	output bytes.Buffer // stdout and stderr of the application
	done   chan struct{}
	err    error
}

// LaunchOptions describe how to start the application.
type LaunchOptions struct {
	Binary  string   // e.g. firefox-esr, thunderbird
	Profile string   // an existing profile directory
	Env     []string // added to the environment ("K=V")
	Args    []string // extra arguments, e.g. a URL
	// Wrapper, if set, is a command line the application is started
	// through (the application's command line is appended), e.g. one
	// that prepares a private mount namespace.
	Wrapper []string
	// StartTimeout bounds the start up to an open session (default 60 s).
	StartTimeout time.Duration
	Caps         Capabilities
}

// Launch starts the application headless with Marionette on a port of its
// own choosing (the profile's user.js should set marionette.port to 0; see
// ProfilePrefs), connects and opens a session. The application runs in its
// own process group so Close can kill it and every child it started.
func Launch(ctx context.Context, o LaunchOptions) (*App, error) {
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	portPath := filepath.Join(o.Profile, PortFile)
	os.Remove(portPath) // left over by a killed run
	// -remote-allow-system-access lets the chrome context run scripts
	// (needed to answer password prompts; see AnswerPasswordPrompt).
	args := append([]string{"--headless", "--marionette", "-remote-allow-system-access", "--no-remote", "--profile", o.Profile}, o.Args...)
	argv := append(append(append([]string(nil), o.Wrapper...), o.Binary), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "MOZ_HEADLESS=1")
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	a := &App{Cmd: cmd, Profile: o.Profile, done: make(chan struct{})}
	cmd.Stdout = lockedWriter{a}
	cmd.Stderr = lockedWriter{a}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		a.err = cmd.Wait()
		close(a.done)
	}()

	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	port, err := a.waitPort(ctx, portPath)
	if err == nil {
		a.Client, err = Dial(ctx, "127.0.0.1:"+strconv.Itoa(port))
	}
	if err == nil {
		err = a.NewSession(ctx, o.Caps)
	}
	if err != nil {
		a.Kill()
		return nil, fmt.Errorf("starting %s: %w\n%s", o.Binary, err, a.Output())
	}
	return a, nil
}

type lockedWriter struct{ a *App }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	return w.a.output.Write(p)
}

// Output returns what the application printed so far.
func (a *App) Output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.output.String()
}

func (a *App) waitPort(ctx context.Context, path string) (int, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 {
				return p, nil
			}
		}
		select {
		case <-a.done:
			return 0, fmt.Errorf("exited before listening: %v", a.err)
		case <-ctx.Done():
			return 0, fmt.Errorf("no %s in %s: %w", PortFile, filepath.Dir(path), ctx.Err())
		case <-tick.C:
		}
	}
}

// Exited reports whether the application has exited.
func (a *App) Exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// Close asks the application to quit, waits up to 15 s, then kills its
// process group.
func (a *App) Close() error {
	if a.Client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a.Quit(ctx)
		cancel()
		a.Client.Close()
	}
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
	}
	a.Kill()
	return nil
}

// Kill kills the application's process group and waits for it.
func (a *App) Kill() {
	if a.Cmd.Process != nil {
		// The group may hold content processes that outlive the parent.
		syscall.Kill(-a.Cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
	}
}

// ProfilePrefs returns user.js lines that make a fresh profile start quietly
// and headless-friendly with Marionette on a free port, plus the given
// preferences (strings, bools and ints).
func ProfilePrefs(extra map[string]any) (string, error) {
	prefs := map[string]any{
		"marionette.port":                                 0,
		"browser.shell.checkDefaultBrowser":               false,
		"browser.startup.homepage_override.mstone":        "ignore",
		"browser.startup.page":                            0,
		"browser.aboutwelcome.enabled":                    false,
		"startup.homepage_welcome_url":                    "about:blank",
		"datareporting.policy.dataSubmissionEnabled":      false,
		"datareporting.healthreport.uploadEnabled":        false,
		"toolkit.telemetry.enabled":                       false,
		"app.update.enabled":                              false,
		"app.update.disabledForTesting":                   true,
		"app.normandy.enabled":                            false,
		"browser.discovery.enabled":                       false,
		"extensions.update.enabled":                       false,
		"browser.safebrowsing.malware.enabled":            false,
		"browser.safebrowsing.phishing.enabled":           false,
		"browser.safebrowsing.downloads.enabled":          false,
		"network.captive-portal-service.enabled":          false,
		"network.connectivity-service.enabled":            false,
		"security.OCSP.enabled":                           0,
		"security.remote_settings.crlite_filters.enabled": false,
		"services.settings.server":                        "http://127.0.0.1:9/",
		"browser.newtabpage.enabled":                      false,
		"toolkit.startup.max_resumed_crashes":             -1,
		"browser.sessionstore.resume_from_crash":          false,
		"mail.shell.checkDefaultClient":                   false,
		"mailnews.start_page.enabled":                     false,
		"mail.rights.override":                            true,
		"mail.provider.enabled":                           false,
	}
	for k, v := range extra {
		prefs[k] = v
	}
	var b strings.Builder
	for k, v := range prefs {
		var lit string
		switch v := v.(type) {
		case string:
			lit = strconv.Quote(v)
		case bool:
			lit = strconv.FormatBool(v)
		case int:
			lit = strconv.Itoa(v)
		default:
			return "", fmt.Errorf("marionette: pref %s has unsupported type %T", k, v)
		}
		fmt.Fprintf(&b, "user_pref(%s, %s);\n", strconv.Quote(k), lit)
	}
	return b.String(), nil
}

// ErrExited is returned by waits when the application has gone.
var ErrExited = errors.New("marionette: the application exited")
