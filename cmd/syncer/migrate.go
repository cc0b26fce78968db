package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"ordersync/order"
)

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	action := "up"
	if e.flags.NArg() > 1 {
		return usagef("migrate takes one of up, down, status")
	}
	if e.flags.NArg() == 1 {
		action = e.flags.Arg(0)
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
		return st.MigrateDown(ctx)
	case "status":
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
	return usagef("migrate takes one of up, down, status, not %q", action)
}
