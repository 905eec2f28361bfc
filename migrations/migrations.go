// Package migrations holds Vane's versioned SQL schema, embedded so the binary carries it.
// One set of files runs on both Postgres and SQLite; write portable SQL.
package migrations

import "embed"

// FS is the embedded migration files, named NNNNN_name.sql in goose's format.
//
//go:embed *.sql
var FS embed.FS
