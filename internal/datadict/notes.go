package main

// The texts that are not the API's: what each order table is, and what the sync's own
// tables and columns hold. A meaning left empty is the comment an earlier migration wrote.

// orderTableTexts describe the tables of the table map. A section's table has a row only
// for orders whose section has content; a list's table has a row per element.
var orderTableTexts = map[string]string{
	"orders":                        "One row per order: order_info of order detail 2.0, the has_result flags of goods_info, after_sale_info, logistics_info and refund_info, and update_time from the order list.",
	"order_buyers":                  "The buyer of each order (buyer_info).",
	"order_prices":                  "The prices of each order (price_info), in fen.",
	"order_payments":                "The payment of each order that has one (payment_info).",
	"order_invoices":                "The invoice asked for with each order that has one (invoice_info).",
	"order_goods":                   "The goods lines of each order (goods_info.goods_list[]), with the coupon totals of each line's discounts_info. Money in fen.",
	"order_goods_discounts":         "The discounts of each goods line: every entry of its discounts_info lists coupons_list, discounts_list and no_coupon_list, as sent. The lists repeat entries of one another: do not add them up across kinds.",
	"order_goods_paid_coupons":      "The paid coupons of each goods line (goods_info.goods_list[].paid_coupon_info[]).",
	"order_after_sales":             "The after-sale records of each order (internal_extra_info.after_sale_info.after_sale_records[]).",
	"order_consignees":              "Where each order is delivered or picked up (internal_extra_info.consignee_info).",
	"order_distributions":           "The content distribution of each order that has one (internal_extra_info.content_distribution_info).",
	"order_indentors":               "The indentor (订货商) of each order that has one (internal_extra_info.indentor_info).",
	"order_packages":                "The packages shipped for each order (internal_extra_info.logistics_info.packages_info[]).",
	"order_package_goods":           "The goods lines of each package (packages_info[].package_goods_info[]).",
	"order_package_goods_discounts": "The discounts of each package goods line, kept as order_goods_discounts keeps those of goods lines.",
	"order_package_traces":          "The tracking events of each package (packages_info[].package_trace_info[]).",
	"order_refunds":                 "The refund records of each order (internal_extra_info.refund_info.refund_records[]). Money in fen.",
	"order_refund_goods":            "The goods that each refund record names (refund_records[].goods_info): one row per refund record that names goods.",
	"order_refund_goods_discounts":  "The discounts of the goods of each refund record, kept as order_goods_discounts keeps those of goods lines.",
	"order_students":                "The student of each order that has one, for offline courses (internal_extra_info.student_info).",
	"order_student_data":            "The extra fields of each order's student (internal_extra_info.student_info.c_data), one row per field.",
	"order_talent_douyin":           "The Douyin talent credited with each order that has one (internal_extra_info.talent_douyin_info).",
	"order_veri_info":               "The verification (核销) summary of each order that has one (internal_extra_info.veri_code_info).",
	"order_veri_codes":              "The verification codes of each order (internal_extra_info.veri_code_info.veri_code_list[]).",
	"order_third_party":             "The Douyin (third_party_info.douyin_info) and Kuaishou (third_party_info.quick_hand_info) details of each order that has them.",
}

// syncColumns describe the columns of the table map that hold no API field and are not
// keys, by table.column.
var syncColumns = map[string]string{
	"orders.update_time": "When the order last changed: order_info.update_time of its item in the order list, xe.ecommerce.order.list (the detail has no such field). The incremental sync's change cursor.",
}

type ownTable struct {
	name, text string
	order      bool // kept with the orders rather than for the sync's bookkeeping
	columns    []ownColumn
}

type ownColumn struct{ name, typ, meaning string }

// ownTables are the tables the sync keeps beside the table map, with their columns in the
// schema's order.
var ownTables = []ownTable{
	{name: "order_payloads", order: true,
		text: "The replies of each order as received: syncer replay rebuilds the other order tables from them without calling the API, and fields the API adds later are kept here.",
		columns: []ownColumn{
			{"order_id", "text", "The order (orders.order_id)."},
			{"detail", "jsonb", "The data object of the order's order detail 2.0 reply, as received."},
			{"list_item", "jsonb", "The order's item of the order list 2.0 reply, as received with the last change that rewrote the order; NULL when the order was fetched without one."},
			{"content_hash", "bytea", "SHA-256 of detail without insignificant white space: an order fetched again with the same hash is not rewritten."},
			{"fetched_at", "timestamptz", "When detail was fetched."},
		}},
	{name: "sync_runs",
		text: "One row per run (sync, backfill, order), written when it starts and completed when it ends. A run whose process died stays running, with no finished_at.",
		columns: []ownColumn{
			{"run_id", "bigint", "The run's number, in the order the runs started."},
			{"app_id", "text", "The shop (its app_id)."},
			{"kind", "text", "What ran: sync (an incremental run), backfill, or order (syncer order)."},
			{"window_start", "timestamptz", "The first second of the order times the run covered, included: update_time for a sync, created_time for a backfill; NULL when it covered none."},
			{"window_end", "timestamptz", "The last second of the order times the run covered, included; NULL when it covered none."},
			{"status", "text", "running (or its process died), ok, partial (some orders went to the failure queue), failed, or interrupted (stopped by a signal, after writing what it had fetched)."},
			{"orders_listed", "integer", "Order list items the run saw."},
			{"orders_fetched", "integer", "Order details the run fetched."},
			{"orders_written", "integer", "Orders whose rows the run wrote: new ones and ones whose content changed."},
			{"orders_unchanged", "integer", "Orders the run found stored with the same content, including those of which only update_time moved."},
			{"orders_failed", "integer", "Orders the run put in the failure queue (sync_failures)."},
			{"api_calls", "integer", "Calls the run made to the Xiaoe API."},
			{"error", "text", "Why the run failed or was partial; NULL otherwise."},
			{"started_at", "timestamptz", "When the run started."},
			{"finished_at", "timestamptz", "When the run ended; NULL while it runs, or when its process died."},
			{"worker", "text", ""},
			{"idle_runs", "integer", ""},
		}},
	{name: "sync_windows",
		text: "The finished windows of each shop: spans of order times all of whose orders are stored or queued as failures. The latest update_time window_end is the incremental sync's checkpoint; a backfill skips the created_time windows found here.",
		columns: []ownColumn{
			{"app_id", "text", "The shop (its app_id)."},
			{"kind", "text", "The order time the window spans: update_time (incremental syncs) or created_time (backfills)."},
			{"window_start", "timestamptz", "The window's first second, included."},
			{"window_end", "timestamptz", "The window's last second, included."},
			{"orders_listed", "integer", "Order list items seen in the window."},
			{"run_id", "bigint", "The run that finished the window (sync_runs.run_id); NULL once that run's row is deleted."},
			{"finished_at", "timestamptz", "When the window was recorded as finished."},
		}},
	{name: "sync_failures",
		text: "The failure queue: orders of each shop that could not be fetched or stored. Runs retry them when due and remove them once they land.",
		columns: []ownColumn{
			{"order_id", "text", "The order."},
			{"app_id", "text", "The shop (its app_id)."},
			{"error", "text", "Why the last attempt failed."},
			{"attempts", "integer", "How many times the order has failed."},
			{"update_time", "timestamptz", "The order's update_time from its order list item, when known; stored with the order once it lands."},
			{"list_item", "jsonb", "The order's item of the order list, as received, when it came from one."},
			{"first_failed_at", "timestamptz", "When the order first failed."},
			{"last_attempt_at", "timestamptz", "When the order was last tried."},
			{"run_id", "bigint", "The run that last tried the order (sync_runs.run_id)."},
			{"next_attempt_at", "timestamptz", ""},
			{"reply", "bytea", ""},
		}},
	{name: "api_tokens",
		text: "The API access token of each set of credentials, shared by every process that uses them: each new token retires the previous one five minutes later.",
		columns: []ownColumn{
			{"credential", "text", "SHA-256 fingerprint of the app id, client id and secret that fetched the token: processes with other credentials do not share it."},
			{"app_id", "text", "The shop (its app_id)."},
			{"access_token", "text", "The access token: a credential, never printed."},
			{"expires_at", "timestamptz", "When the token expires."},
			{"updated_at", "timestamptz", "When the token was last replaced."},
		}},
	{name: "api_budget",
		columns: []ownColumn{
			{"app_id", "text", ""},
			{"worker", "text", ""},
			{"heartbeat_at", "timestamptz", ""},
			{"joined_at", "timestamptz", ""},
		}},
	// Described by the COMMENTs of migrations/00009_verifications.sql.
	{name: "sync_verifications",
		columns: []ownColumn{
			{"verification_id", "bigint", ""},
			{"app_id", "text", ""},
			{"range_from", "date", ""},
			{"range_to", "date", ""},
			{"horizon", "timestamptz", ""},
			{"repair", "boolean", ""},
			{"status", "text", ""},
			{"api_calls", "integer", ""},
			{"missing", "integer", ""},
			{"extra", "integer", ""},
			{"stale", "integer", ""},
			{"money", "integer", ""},
			{"consistency", "integer", ""},
			{"repaired", "integer", ""},
			{"anomalies", "jsonb", ""},
			{"error", "text", ""},
			{"started_at", "timestamptz", ""},
			{"finished_at", "timestamptz", ""},
		}},
}
