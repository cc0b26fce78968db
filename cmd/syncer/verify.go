package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"ordersync/order"
	"ordersync/pipeline"
)

// verifyHelp is the help of syncer verify.
const verifyHelp = "Compare the stored orders of one shop with the API's, day by day (Asia/Shanghai), and check " +
	"the stored tables against the sums of the API's docs. --from and --to are days, YYYY-MM-DD, both included; " +
	"by default the last 31 days up to today. For each day one list call counts the orders created that day; a " +
	"day of at most 100 orders comes whole with its count, a larger day that differs is listed in full. Anomalies: " +
	"missing (at the API, not stored), extra (stored, not at the API), stale (stored with an older update_time), " +
	"and the warnings money and consistency (amounts or counts that do not add up). Orders created and changes " +
	"made after the sync's checkpoint less its overlap are the next sync's, not anomalies. --repair fetches the " +
	"missing and stale orders again, rebuilds those with warnings from their stored payloads, and checks them " +
	"again; extra orders are only reported. Each verify is recorded in sync_verifications. Exit status: 0 no " +
	"order missing, extra or stale; 4 some are (or, with --strict, any anomaly); 1 the verify failed; 2 usage."

// differsError is a verify that found orders missing, extra or stale, or, with --strict,
// any anomaly: exit status 4.
type differsError struct {
	appID  string
	counts map[string]int
}

func (e *differsError) Error() string {
	return fmt.Sprintf("verify of shop %s found %s", e.appID, countsText(e.counts))
}

// countsText is like "1 missing, 0 extra, 2 stale, 0 money, 0 consistency".
func countsText(counts map[string]int) string {
	parts := make([]string, len(pipeline.AnomalyKinds))
	for i, k := range pipeline.AnomalyKinds {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}

func cmdVerify(ctx context.Context, e *env, args []string) error {
	fromS := e.flags.String("from", "", "the first `DATE` to verify, YYYY-MM-DD (Asia/Shanghai); default: 30 days before --to")
	toS := e.flags.String("to", "", "the last `DATE` to verify, included; default: today")
	asJSON := e.flags.Bool("json", false, "print one JSON object: range, api_calls, days and anomalies")
	repair := e.flags.Bool("repair", false, "fetch the missing and stale orders again, rebuild those with money or consistency anomalies from their payloads, and check them again")
	strict := e.flags.Bool("strict", false, "exit 4 on money and consistency anomalies too")
	if err := e.parse(args); err != nil {
		return err
	}
	from, err := verifyDay("from", *fromS)
	if err != nil {
		return err
	}
	to, err := verifyDay("to", *toS)
	if err != nil {
		return err
	}
	if _, _, err := pipeline.VerifyDates(from, to, time.Now()); err != nil {
		return usagef("%v", err)
	}
	st, s, sh, err := e.openSyncer(ctx, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := s.Verify(ctx, pipeline.VerifyOptions{From: from, To: to, Repair: *repair})
	if err != nil && !errors.Is(err, pipeline.ErrRepair) {
		return err // no report: the verify itself failed
	}
	if *asJSON {
		rep.Days, rep.Anomalies = nonNil(rep.Days), nonNil(rep.Anomalies)
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return errors.Join(err, jerr)
		}
	} else if perr := printVerify(e.stdout, sh.AppID, rep); perr != nil {
		return errors.Join(err, perr)
	}
	if err != nil {
		return err
	}
	if rep.Differs() || *strict && len(rep.Anomalies) > 0 {
		return &differsError{appID: sh.AppID, counts: rep.Counts()}
	}
	return nil
}

// verifyDay parses --from or --to: a day, or zero when not given.
func verifyDay(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, v, order.Shanghai)
	if err != nil {
		return time.Time{}, usagef("verify --%s %q: want a day, YYYY-MM-DD: verify checks whole days", name, v)
	}
	return t, nil
}

// printVerify prints a verify's report: what it covered, the days, and the anomalies with
// their whole details.
func printVerify(w io.Writer, appID string, rep pipeline.Report) error {
	fmt.Fprintf(w, "verify of shop %s, %s to %s: orders created and changed up to %s (Beijing time); %d API calls\n\n",
		appID, rep.Range.From, rep.Range.To, rep.Horizon.In(order.Shanghai).Format(time.DateTime), rep.APICalls)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DAY\tAPI\tSTORED\t\t")
	for _, d := range rep.Days {
		mark := ""
		if d.APITotal != d.Stored {
			mark = "differs"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", d.Day, d.APITotal, d.Stored, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if rep.Repaired > 0 {
		fmt.Fprintf(w, "repaired %d anomalies\n", rep.Repaired)
	}
	if len(rep.Anomalies) == 0 {
		fmt.Fprintln(w, "no anomalies")
		return nil
	}
	fmt.Fprintf(w, "%d anomalies: %s\n", len(rep.Anomalies), countsText(rep.Counts()))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tORDER\tDAY\tDETAIL")
	for _, a := range rep.Anomalies {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Kind, a.OrderID, a.Day, a.Detail)
	}
	return tw.Flush()
}
