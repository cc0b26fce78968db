package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"ordersync/order"
	"ordersync/store"
)

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	yes := e.flags.Bool("yes", false, "with down: drop tables even when they hold rows")
	to := e.flags.Int64("to", 0, "with down: roll back every migration after this version (0: all of them) instead of the last one")
	// The action may come before, between or after the flags (migrate down --yes).
	var actions []string
	for {
		if err := e.parse(args); err != nil {
			return err
		}
		if e.flags.NArg() == 0 {
			break
		}
		actions = append(actions, e.flags.Arg(0))
		args = e.flags.Args()[1:]
	}
	if len(actions) > 1 {
		return usagef("migrate takes one action: up, down or status")
	}
	action := "up"
	if len(actions) == 1 {
		action = actions[0]
	}
	if action != "up" && action != "down" && action != "status" {
		return usagef("migrate takes one of up, down, status, not %q", action)
	}
	set := map[string]bool{}
	e.flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if action != "down" && (set["yes"] || set["to"]) {
		return usagef("--yes and --to go with migrate down only")
	}
	target := store.PreviousVersion
	if set["to"] {
		if *to < 0 {
			return usagef("--to %d: want 0 or a migration's version", *to)
		}
		target = *to
	}
	st, err := e.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	switch action {
	case "up":
		if err := st.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "schema is current")
		return nil
	case "down":
		return migrateDown(ctx, e.stdout, st, target, *yes)
	}
	ms, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tAPPLIED\tFILE")
	for _, m := range ms {
		applied := "pending"
		if m.Applied {
			applied = m.AppliedAt.In(order.Shanghai).Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, applied, m.File)
	}
	return tw.Flush()
}

// migrateDown rolls back and prints each migration it rolled back, or would have, with
// the tables and views it drops and the rows of each table.
func migrateDown(ctx context.Context, w io.Writer, st *store.Store, to int64, yes bool) error {
	rs, err := st.MigrateDown(ctx, to, yes)
	if errors.Is(err, store.ErrNoSuchVersion) {
		return usagef("%v", err)
	}
	verb := "rolled back"
	if errors.Is(err, store.ErrDropsRows) {
		verb = "would roll back"
		err = usagef("%v (listed above); add --yes to drop them", err)
	}
	if len(rs) == 0 && err == nil {
		fmt.Fprintln(w, "nothing to roll back")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rs {
		fmt.Fprintf(tw, "%s %d %s\n", verb, r.Version, r.File)
		for _, d := range r.Drops {
			switch {
			case d.Kind != "table":
				fmt.Fprintf(tw, "  drops %s\t%s\n", d.Kind, d.Name)
			case d.Rows == 1:
				fmt.Fprintf(tw, "  drops table\t%s\t1 row\n", d.Name)
			default:
				fmt.Fprintf(tw, "  drops table\t%s\t%d rows\n", d.Name, d.Rows)
			}
		}
	}
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	return err
}
