// Package web holds the team admin portal: a React + TypeScript app in src/, built by `npm run build`
// into dist/, which is committed and embedded here so that the Go binary serves the portal alone.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist is the built portal: index.html and the hashed files under assets/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the directory is embedded above; it always exists
	}
	return sub
}
