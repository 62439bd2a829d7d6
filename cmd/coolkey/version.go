package main

import (
	"fmt"
	"runtime/debug"
)

// version is set at link time by the build (-X main.version=...).
var version = "dev"

func init() {
	register(&command{
		Path:    []string{"version"},
		Summary: "print the version",
		Run: func(env *cliEnv, args []string) error {
			if err := parseFlags(newFlagSet(env, "version"), args); err != nil {
				return err
			}
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						rev = " (" + s.Value[:12] + ")"
					}
				}
			}
			fmt.Fprintf(env.Stdout, "coolkey %s%s\n", version, rev)
			return nil
		},
	})
}
