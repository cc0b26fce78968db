package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

func cmdVersion(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionLine(info))
	return nil
}

// versionLine says which syncer this is: the module's version, the VCS revision it was
// built from and the Go that built it. A binary from go run or go test, or built with
// -buildvcs=false, has no revision, and its version is "(devel)" or empty.
func versionLine(info *debug.BuildInfo) string {
	version, revision, goVersion := "(devel)", "unknown", runtime.Version()
	if info != nil {
		if v := info.Main.Version; v != "" {
			version = v
		}
		goVersion = info.GoVersion
		var at, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = " of " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " with local changes"
				}
			}
		}
		if revision != "unknown" {
			revision += at + modified
		}
	}
	return fmt.Sprintf("syncer %s, revision %s, %s %s/%s", version, revision, goVersion, runtime.GOOS, runtime.GOARCH)
}
