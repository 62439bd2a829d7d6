// Command coolkey is the CoolKey smart-card tool: card status, enrollment
// through a Dogtag TPS, and the virtual card and test TPS used for demos and
// tests.
//
// Subcommands register themselves in commands (one file per command group),
// so adding a command never touches this file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one CLI subcommand. Path is the words that select it, e.g.
// []string{"sim", "card", "serve"}.
type command struct {
	Path    []string
	Summary string
	// Run receives the arguments after the command path. It returns an
	// error for the caller to print; a usageError prints the command's usage
	// and exits 2, an exitError carries its own exit code.
	Run func(env *cliEnv, args []string) error
}

// cliEnv is what commands need from the process, so tests can run them
// in-process with their own streams and environment.
type cliEnv struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

// usageError reports a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries a specific process exit code.
type exitError struct {
	Code int
	Err  error
}

func (e exitError) Error() string { return e.Err.Error() }
func (e exitError) Unwrap() error { return e.Err }

func main() {
	env := &cliEnv{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(run(env, os.Args[1:]))
}

// run dispatches args to the longest matching command path and returns the
// process exit code.
func run(env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.Stdout, "")
		return 0
	}
	var best *command
	for _, c := range commands {
		if len(c.Path) <= len(args) && equalWords(c.Path, args[:len(c.Path)]) {
			if best == nil || len(c.Path) > len(best.Path) {
				best = c
			}
		}
	}
	if best == nil {
		prefix := strings.Join(args, " ")
		if hasPrefixCommand(prefix) {
			printUsage(env.Stderr, prefix)
			return 2
		}
		fmt.Fprintf(env.Stderr, "coolkey: unknown command %q (see 'coolkey help')\n", strings.Join(args, " "))
		return 2
	}
	err := best.Run(env, args[len(best.Path):])
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "coolkey %s: %s\n", strings.Join(best.Path, " "), ue.msg)
		return 2
	case errors.As(err, &ee):
		fmt.Fprintf(env.Stderr, "coolkey %s: %v\n", strings.Join(best.Path, " "), ee.Err)
		return ee.Code
	default:
		fmt.Fprintf(env.Stderr, "coolkey %s: %v\n", strings.Join(best.Path, " "), err)
		return 1
	}
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasPrefixCommand(prefix string) bool {
	for _, c := range commands {
		if strings.HasPrefix(strings.Join(c.Path, " ")+" ", prefix+" ") {
			return true
		}
	}
	return false
}

func printUsage(w io.Writer, prefix string) {
	fmt.Fprintln(w, "usage: coolkey <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	sorted := append([]*command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool {
		return strings.Join(sorted[i].Path, " ") < strings.Join(sorted[j].Path, " ")
	})
	for _, c := range sorted {
		name := strings.Join(c.Path, " ")
		if prefix != "" && !strings.HasPrefix(name+" ", prefix+" ") {
			continue
		}
		fmt.Fprintf(w, "  %-24s %s\n", name, c.Summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'coolkey <command> -h' for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// writes its usage to the command's stderr.
func newFlagSet(env *cliEnv, path string) *flag.FlagSet {
	fs := flag.NewFlagSet("coolkey "+path, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseFlags parses and turns a bad flag into a usage error (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err.Error()}
}
