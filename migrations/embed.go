// Package migrations holds the goose SQL migrations of ordersync's schema, embedded in the
// binary.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
