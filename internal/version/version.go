// Package version names the build of the binary: the version it was given
// or its module's, and the VCS revision it was built from.
package version

import "runtime/debug"

// String is v, or without it the module version recorded in the binary,
// followed by the VCS revision it was built from (with "-dirty" when the
// tree had changes), its time and the Go version, from the build info.
func String(v string) string {
	bi, _ := debug.ReadBuildInfo()
	return Format(v, bi)
}

// Format is String over the build info bi (nil: none recorded).
func Format(v string, bi *debug.BuildInfo) string {
	if v == "" && bi != nil {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if bi == nil {
		return v
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return v + " (revision unknown, " + bi.GoVersion + ")"
	}
	if at != "" {
		at = ", " + at
	}
	return v + " (revision " + rev + dirty + at + ", " + bi.GoVersion + ")"
}
