-- The reporting views of 00003, per shop. One database holds many shops, each order carrying
-- its shop in orders.app_id (order_info.app_id), so every view gains app_id as its first
-- column and groups by it. Each view keeps its meaning and 00003's rules (Shanghai days, fen,
-- nothing joined but 1:1 before it is summed, "paid" decided in report_orders).
--
-- Nothing is counted twice across shops: an order id belongs to one shop (the store refuses
-- the same id from a second shop), and the child tables, which have no app_id, take their
-- order's through orders' primary key, so each of their rows is still one row. Adding up
-- the shops' counts and amounts gives 00003's figures. An order whose detail names no shop
-- has app_id NULL: those orders are a group of their own.
--
-- A new first column cannot be made with CREATE OR REPLACE VIEW, which only appends columns,
-- so the views are dropped, dependents first, and created again. No CASCADE: a view someone
-- built on these makes the migration fail instead of disappearing. Privileges granted on the
-- old views go with them and must be granted again.
-- +goose Up

DROP VIEW order_lines;
DROP VIEW report_carriers;
DROP VIEW report_packages;
DROP VIEW report_refund_goods;
DROP VIEW report_refunds;
DROP VIEW report_goods_sales;
DROP VIEW report_daily_sales;
DROP VIEW report_orders;

-- One row per order, as in 00003: paid, pay_day and discounts are defined there.
CREATE VIEW report_orders AS
SELECT o.app_id,
       o.order_id,
       o.user_id,
       o.order_state,
       o.order_state_description,
       o.order_close_type,
       o.order_close_type_description,
       o.order_create_time,
       o.order_pay_time,
       (o.order_create_time AT TIME ZONE 'Asia/Shanghai')::date AS create_day,
       CASE WHEN x.paid THEN (o.order_pay_time AT TIME ZONE 'Asia/Shanghai')::date END AS pay_day,
       x.paid,
       coalesce(pr.gross_total, 0) AS gross_total,
       coalesce(pr.shipment_fee, 0) AS shipment_fee,
       coalesce(pr.collectibles, 0) AS collectibles,
       coalesce(pr.earned_revenue, 0) AS earned_revenue,
       coalesce(pr.gross_total, 0) + coalesce(pr.shipment_fee, 0) - coalesce(pr.collectibles, 0) AS discounts
FROM orders o
LEFT JOIN order_prices pr ON pr.order_id = o.order_id
LEFT JOIN order_payments pay ON pay.order_id = o.order_id
CROSS JOIN LATERAL (
    SELECT CASE
             WHEN o.order_pay_time IS NULL OR o.order_state = 0 THEN false
             WHEN o.order_state = 5 OR o.order_close_type IN (1, 2, 3, 5, 6) THEN
                  coalesce(o.order_close_type = 4
                           OR pay.transaction_id IS NOT NULL
                           OR pr.earned_revenue > 0, false)
             ELSE true
           END AS paid
) x;

COMMENT ON VIEW report_orders IS
    'One row per order, with its shop (app_id): Shanghai create_day and pay_day, paid '
    '(order_pay_time set, not 待付款, and not closed without payment: close types 1/2/3/5/6 with '
    'no transaction_id and no earned_revenue are never paid, close type 4 全额退款 was), '
    'price_info amounts in fen, discounts = gross_total + shipment_fee - collectibles.';

-- One row per shop and Shanghai day on which one of its orders was placed, paid or refunded.
-- The columns are 00003's.
--
-- shipment is price_info.shipment_fee (运费). The docs say neither how collectibles (应收款)
-- is made up nor which way shipment_modified_amount (运费改价金额) counts, so a change of the
-- freight is not taken out of shipment: like every 改价 it is in discounts, the remainder
-- gross + shipment - collected. That remainder makes gross + shipment - discounts = collected
-- on every row.
--
-- The three event kinds are still stacked with UNION ALL and grouped once. A refund's shop is
-- its order's: the join is on orders' primary key, one order per refund, so it cannot repeat
-- a refund. The days are still computed from the raw columns, for 00003's indexes.
CREATE VIEW report_daily_sales AS
SELECT app_id,
       day,
       sum(orders_placed)::bigint AS orders_placed,
       sum(orders_paid)::bigint AS orders_paid,
       sum(gross)::bigint AS gross,
       sum(shipment)::bigint AS shipment,
       sum(discounts)::bigint AS discounts,
       sum(collected)::bigint AS collected,
       sum(refunds)::bigint AS refunds,
       sum(refunded)::bigint AS refunded,
       (sum(collected) - sum(refunded))::bigint AS net
FROM (
    SELECT o.app_id, (o.order_create_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
           1 AS orders_placed, 0 AS orders_paid, 0::bigint AS gross, 0::bigint AS shipment,
           0::bigint AS discounts, 0::bigint AS collected, 0 AS refunds, 0::bigint AS refunded
    FROM orders o
    WHERE o.order_create_time IS NOT NULL
    UNION ALL
    SELECT r.app_id, (r.order_pay_time AT TIME ZONE 'Asia/Shanghai')::date,
           0, 1, r.gross_total, r.shipment_fee, r.discounts, r.collectibles, 0, 0
    FROM report_orders r
    WHERE r.paid
    UNION ALL
    SELECT o.app_id, (f.refund_time AT TIME ZONE 'Asia/Shanghai')::date,
           0, 0, 0, 0, 0, 0, 1, coalesce(f.refund_amount, 0)
    FROM order_refunds f
    JOIN orders o ON o.order_id = f.order_id
    WHERE f.refund_state = 2 AND f.refund_time IS NOT NULL
) e
GROUP BY app_id, day;

COMMENT ON VIEW report_daily_sales IS
    'Per shop (app_id) and Shanghai day: orders_placed (created, any state); orders_paid, gross, '
    'shipment (shipment_fee), discounts, collected (collectibles) of orders paid that day, '
    'gross + shipment - discounts = collected; refunds and refunded: successful refunds '
    '(refund_state 2) by refund_time day; net = collected - refunded. Fen.';

-- One row per shop, Shanghai day and product (spu_id, sku_id), with 00003's columns. A
-- product's ids are the shop's own, so two shops selling the same ids keep two rows.
CREATE VIEW report_goods_sales AS
SELECT app_id,
       day,
       spu_id,
       sku_id,
       min(spu_type) AS spu_type,
       min(goods_name) AS goods_name,
       min(goods_spec_description) AS goods_spec_description,
       count(DISTINCT sale_order_id) AS orders,
       sum(quantity)::bigint AS quantity,
       sum(gross)::bigint AS gross,
       sum(revenue)::bigint AS revenue,
       sum(refunds)::bigint AS refunds,
       sum(refunded)::bigint AS refunded
FROM (
    SELECT r.app_id, (r.order_pay_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
           g.spu_id, g.sku_id, g.spu_type, g.goods_name, g.goods_spec_description,
           g.order_id AS sale_order_id,
           coalesce(g.quantity, 0) AS quantity,
           coalesce(g.unit_price, 0) * coalesce(g.quantity, 0) AS gross,
           coalesce(g.actual_fee, 0) AS revenue,
           0 AS refunds, 0::bigint AS refunded
    FROM order_goods g
    JOIN report_orders r ON r.order_id = g.order_id
    WHERE r.paid
    UNION ALL
    -- order_refund_goods is 1:1 with its refund record, and so is orders (its primary key).
    SELECT o.app_id, (f.refund_time AT TIME ZONE 'Asia/Shanghai')::date,
           rg.spu_id, rg.sku_id, rg.spu_type, rg.goods_name, rg.goods_spec_description,
           NULL, 0, 0, 0,
           1, coalesce(f.refund_amount, 0)
    FROM order_refunds f
    JOIN orders o ON o.order_id = f.order_id
    LEFT JOIN order_refund_goods rg ON rg.order_id = f.order_id AND rg.refund_no = f.refund_no
    WHERE f.refund_state = 2 AND f.refund_time IS NOT NULL
) e
GROUP BY app_id, day, spu_id, sku_id;

COMMENT ON VIEW report_goods_sales IS
    'Per shop (app_id), Shanghai day and spu_id/sku_id: orders, quantity, gross '
    '(unit_price*quantity), revenue (actual_fee) of goods in orders paid that day; refunds and '
    'refunded (refund_amount) of successful refunds that day, by the goods they name (NULL ids: '
    'the refund names none). Fen.';

-- One row per shop, Shanghai day (of refund_time), refund_state and refund_type, over every
-- refund record in any state, as in 00003.
CREATE VIEW report_refunds AS
SELECT o.app_id,
       (f.refund_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
       f.refund_state,
       min(f.refund_state_description) AS refund_state_description,
       f.refund_type,
       min(f.refund_type_description) AS refund_type_description,
       count(*) AS refunds,
       count(DISTINCT f.order_id) AS orders,
       coalesce(sum(f.refund_amount), 0)::bigint AS refund_amount
FROM order_refunds f
JOIN orders o ON o.order_id = f.order_id
GROUP BY o.app_id, 2, f.refund_state, f.refund_type;

COMMENT ON VIEW report_refunds IS
    'Refund records per shop (app_id), Shanghai day of refund_time, refund_state and refund_type '
    '(all states): refunds, orders, refund_amount in fen. Money returned is refund_state 2 only.';

-- One row per refund record, as in 00003, with its order's shop.
CREATE VIEW report_refund_goods AS
SELECT r.app_id,
       (f.refund_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
       f.refund_time,
       f.order_id,
       f.refund_no,
       f.after_sale_id,
       f.refund_state,
       f.refund_state_description,
       f.refund_type,
       f.refund_type_description,
       f.refund_amount,
       rg.spu_id,
       rg.sku_id,
       rg.spu_type,
       rg.goods_name,
       rg.goods_spec_description,
       rg.quantity,
       r.pay_day AS order_pay_day
FROM order_refunds f
LEFT JOIN order_refund_goods rg ON rg.order_id = f.order_id AND rg.refund_no = f.refund_no
LEFT JOIN report_orders r ON r.order_id = f.order_id;

COMMENT ON VIEW report_refund_goods IS
    'One row per refund record (any state), with its shop (app_id): Shanghai day of refund_time, '
    'state, type, refund_amount (fen), the goods it names (NULL when none) and the order''s pay_day.';

-- One row per package, as in 00003 (first and last trace, delivered, time to delivery), with
-- its order's shop.
CREATE VIEW report_packages AS
SELECT o.app_id,
       p.order_id,
       p.package_no,
       p.logistics_company_name,
       p.express_id,
       p.logistics_state_description,
       p.departure_time,
       (p.departure_time AT TIME ZONE 'Asia/Shanghai')::date AS ship_day,
       coalesce(n.traces, 0) AS traces,
       ft.time AS first_trace_time,
       ft.text AS first_trace_text,
       lt.time AS last_trace_time,
       lt.text AS last_trace_text,
       d.delivered,
       CASE WHEN d.delivered THEN lt.time - p.departure_time END AS time_to_delivery,
       CASE WHEN d.delivered
            THEN round(extract(epoch FROM lt.time - p.departure_time) / 3600, 2) END AS hours_to_delivery
FROM order_packages p
JOIN orders o ON o.order_id = p.order_id
LEFT JOIN LATERAL (
    SELECT count(*) AS traces FROM order_package_traces t
    WHERE t.order_id = p.order_id AND t.package_no = p.package_no
) n ON true
LEFT JOIN LATERAL (
    SELECT t.time, t.text FROM order_package_traces t
    WHERE t.order_id = p.order_id AND t.package_no = p.package_no
    ORDER BY t.time ASC NULLS LAST, t.entry_no DESC
    LIMIT 1
) ft ON true
LEFT JOIN LATERAL (
    SELECT t.time, t.text FROM order_package_traces t
    WHERE t.order_id = p.order_id AND t.package_no = p.package_no
    ORDER BY t.time DESC NULLS LAST, t.entry_no ASC
    LIMIT 1
) lt ON true
CROSS JOIN LATERAL (
    SELECT coalesce(lt.text ~ '签收' AND lt.text !~ '(拒|拒绝|待|未|不|无人)签收|签收失败', false) AS delivered
) d;

COMMENT ON VIEW report_packages IS
    'One row per package, with its shop (app_id): carrier, express_id, departure_time (ship '
    'time) and its Shanghai ship_day, first and last trace by time, delivered (last trace says '
    '签收, not a refusal or a wait), time_to_delivery = last trace time - departure_time when '
    'delivered, else NULL.';

-- One row per shop and carrier (logistics_company_name): one carrier serves shops apart.
CREATE VIEW report_carriers AS
SELECT app_id,
       logistics_company_name,
       count(*) AS packages,
       count(*) FILTER (WHERE delivered) AS delivered,
       round(avg(extract(epoch FROM time_to_delivery)) / 3600, 2) AS avg_hours_to_delivery,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM time_to_delivery)) / 3600)::numeric, 2)
           AS median_hours_to_delivery,
       min(departure_time) AS first_departure_time,
       max(departure_time) AS last_departure_time
FROM report_packages
GROUP BY app_id, logistics_company_name;

COMMENT ON VIEW report_carriers IS
    'Per shop (app_id) and carrier: packages, delivered, average and median hours from '
    'departure_time to the delivering trace (delivered packages only), first and last '
    'departure_time.';

-- One row per goods line, as in 00003: no order-level money, it would repeat on every line.
CREATE VIEW order_lines AS
SELECT r.app_id,
       r.order_id,
       r.user_id,
       b.nickname,
       b.phone_number,
       r.order_state,
       r.order_state_description,
       r.order_close_type,
       r.order_close_type_description,
       r.order_create_time,
       r.create_day,
       r.order_pay_time,
       r.paid,
       r.pay_day,
       g.line_no,
       g.spu_id,
       g.sku_id,
       g.spu_type,
       g.goods_name,
       g.goods_spec_description,
       g.quantity,
       g.unit_price,
       g.actual_fee,
       g.refund_state,
       g.refund_state_description,
       g.refund_amount,
       g.ship_state,
       g.ship_state_description
FROM report_orders r
LEFT JOIN order_buyers b ON b.order_id = r.order_id
LEFT JOIN order_goods g ON g.order_id = r.order_id;

COMMENT ON VIEW order_lines IS
    'One row per goods line with its shop (app_id), its order (state, Shanghai '
    'create_day/pay_day, paid) and buyer; orders without lines get one row. No order-level '
    'money: it would repeat on every line.';

-- +goose Down

-- Back to 00003's views: the statements after the drops are 00003's, copied unchanged.
DROP VIEW order_lines;
DROP VIEW report_carriers;
DROP VIEW report_packages;
DROP VIEW report_refund_goods;
DROP VIEW report_refunds;
DROP VIEW report_goods_sales;
DROP VIEW report_daily_sales;
DROP VIEW report_orders;

-- One row per order with the facts the reports share.
--
-- paid: the order was paid. order_pay_time alone does not say so: the API documents it as the
-- time the payment STATE changed (订单支付状态变更时间), and an unpaid order that is cancelled
-- gets one too. So an order counts as paid when order_pay_time is set and
--   * it is not 待付款 (order_state 0), and
--   * if it is closed (order_state 5, or order_close_type 1, 2, 3, 5 or 6), it was closed by a
--     full refund (order_close_type 4: money was taken, then given back) or it shows a payment
--     anyway: a payment transaction_id, or earned_revenue (已收款) above zero. This covers a
--     failed group buy (5) that was paid and refunded. Closed as 自动取消 1, 用户手动取消 2,
--     商家取消 3, 拼团失败 5 or 系统取消 6 with no payment means never paid.
-- pay_day is the Shanghai day of order_pay_time for paid orders, NULL otherwise.
-- discounts: gross_total + shipment_fee - collectibles, the price-level difference. It is
-- exact by construction and counts each fen once; summing the discount rows is not, because
-- the three lists (coupons_list, discounts_list, no_coupon_list) repeat entries of one another.
-- It includes merchant price changes (改价), which also take the price down from gross.
CREATE VIEW report_orders AS
SELECT o.order_id,
       o.app_id,
       o.user_id,
       o.order_state,
       o.order_state_description,
       o.order_close_type,
       o.order_close_type_description,
       o.order_create_time,
       o.order_pay_time,
       (o.order_create_time AT TIME ZONE 'Asia/Shanghai')::date AS create_day,
       CASE WHEN x.paid THEN (o.order_pay_time AT TIME ZONE 'Asia/Shanghai')::date END AS pay_day,
       x.paid,
       coalesce(pr.gross_total, 0) AS gross_total,
       coalesce(pr.shipment_fee, 0) AS shipment_fee,
       coalesce(pr.collectibles, 0) AS collectibles,
       coalesce(pr.earned_revenue, 0) AS earned_revenue,
       coalesce(pr.gross_total, 0) + coalesce(pr.shipment_fee, 0) - coalesce(pr.collectibles, 0) AS discounts
FROM orders o
LEFT JOIN order_prices pr ON pr.order_id = o.order_id
LEFT JOIN order_payments pay ON pay.order_id = o.order_id
CROSS JOIN LATERAL (
    SELECT CASE
             WHEN o.order_pay_time IS NULL OR o.order_state = 0 THEN false
             WHEN o.order_state = 5 OR o.order_close_type IN (1, 2, 3, 5, 6) THEN
                  coalesce(o.order_close_type = 4
                           OR pay.transaction_id IS NOT NULL
                           OR pr.earned_revenue > 0, false)
             ELSE true
           END AS paid
) x;

COMMENT ON VIEW report_orders IS
    'One row per order: Shanghai create_day and pay_day, paid (order_pay_time set, not 待付款, '
    'and not closed without payment: close types 1/2/3/5/6 with no transaction_id and no '
    'earned_revenue are never paid, close type 4 全额退款 was), price_info amounts in fen, '
    'discounts = gross_total + shipment_fee - collectibles.';

-- One row per Shanghai day on which an order was placed, paid or refunded.
--
-- orders_placed: orders created that day, in any state (unpaid and closed included).
-- orders_paid, gross, shipment, discounts, collected: orders PAID that day (report_orders.paid),
--   with their price_info gross_total, shipment_fee, discounts and collectibles. collected is
--   collectibles (应收款) rather than earned_revenue (已收款): for a paid order they are the
--   same amount, but collectibles is fixed when the order is priced, while the API does not
--   say whether earned_revenue shrinks after a refund; if it did, net would count the refund
--   twice. gross + shipment - discounts = collected on every row.
-- refunds, refunded: successful refunds (order_refunds.refund_state 2 退款成功) by the day of
--   their refund_time, whatever day the order was paid. Refunds in another state, or with no
--   refund_time, are not money back yet and are not here (report_refunds shows them).
-- net: collected - refunded.
--
-- The three event kinds are stacked with UNION ALL and grouped once: the equivalent of a full
-- outer join of three per-day aggregates, so a day with refunds only still has its row, and
-- with no join at all, so nothing can be counted twice. The days are computed from the raw
-- columns, so a filter on day reaches the expression indexes below.
CREATE VIEW report_daily_sales AS
SELECT day,
       sum(orders_placed)::bigint AS orders_placed,
       sum(orders_paid)::bigint AS orders_paid,
       sum(gross)::bigint AS gross,
       sum(shipment)::bigint AS shipment,
       sum(discounts)::bigint AS discounts,
       sum(collected)::bigint AS collected,
       sum(refunds)::bigint AS refunds,
       sum(refunded)::bigint AS refunded,
       (sum(collected) - sum(refunded))::bigint AS net
FROM (
    SELECT (o.order_create_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
           1 AS orders_placed, 0 AS orders_paid, 0::bigint AS gross, 0::bigint AS shipment,
           0::bigint AS discounts, 0::bigint AS collected, 0 AS refunds, 0::bigint AS refunded
    FROM orders o
    WHERE o.order_create_time IS NOT NULL
    UNION ALL
    SELECT (r.order_pay_time AT TIME ZONE 'Asia/Shanghai')::date,
           0, 1, r.gross_total, r.shipment_fee, r.discounts, r.collectibles, 0, 0
    FROM report_orders r
    WHERE r.paid
    UNION ALL
    SELECT (f.refund_time AT TIME ZONE 'Asia/Shanghai')::date,
           0, 0, 0, 0, 0, 0, 1, coalesce(f.refund_amount, 0)
    FROM order_refunds f
    WHERE f.refund_state = 2 AND f.refund_time IS NOT NULL
) e
GROUP BY day;

COMMENT ON VIEW report_daily_sales IS
    'Per Shanghai day: orders_placed (created, any state); orders_paid, gross, shipment, '
    'discounts, collected (collectibles) of orders paid that day; refunds and refunded: '
    'successful refunds (refund_state 2) by refund_time day; net = collected - refunded. Fen.';

-- One row per Shanghai day and product (spu_id, sku_id).
--
-- Sales side, on the day the order was paid (paid orders only): orders, quantity, gross
-- (unit_price * quantity) and revenue (actual_fee, 商品实收金额: after discounts).
-- Refund side, on the day of the refund (successful refunds only, as in report_daily_sales):
-- refunds and refunded (the refund record's refund_amount), for the goods the refund names. A
-- refund whose record names no goods (a whole-order or shipping refund) is on a row with
-- spu_id and sku_id NULL, so that refunded adds up to report_daily_sales.refunded per day.
-- goods_name, spu_type and goods_spec_description are the smallest seen that day: names of
-- one sku rarely differ, and a product is its ids, not its name.
CREATE VIEW report_goods_sales AS
SELECT day,
       spu_id,
       sku_id,
       min(spu_type) AS spu_type,
       min(goods_name) AS goods_name,
       min(goods_spec_description) AS goods_spec_description,
       count(DISTINCT sale_order_id) AS orders,
       sum(quantity)::bigint AS quantity,
       sum(gross)::bigint AS gross,
       sum(revenue)::bigint AS revenue,
       sum(refunds)::bigint AS refunds,
       sum(refunded)::bigint AS refunded
FROM (
    SELECT (r.order_pay_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
           g.spu_id, g.sku_id, g.spu_type, g.goods_name, g.goods_spec_description,
           g.order_id AS sale_order_id,
           coalesce(g.quantity, 0) AS quantity,
           coalesce(g.unit_price, 0) * coalesce(g.quantity, 0) AS gross,
           coalesce(g.actual_fee, 0) AS revenue,
           0 AS refunds, 0::bigint AS refunded
    FROM order_goods g
    JOIN report_orders r ON r.order_id = g.order_id
    WHERE r.paid
    UNION ALL
    -- order_refund_goods is 1:1 with its refund record (same primary key).
    SELECT (f.refund_time AT TIME ZONE 'Asia/Shanghai')::date,
           rg.spu_id, rg.sku_id, rg.spu_type, rg.goods_name, rg.goods_spec_description,
           NULL, 0, 0, 0,
           1, coalesce(f.refund_amount, 0)
    FROM order_refunds f
    LEFT JOIN order_refund_goods rg ON rg.order_id = f.order_id AND rg.refund_no = f.refund_no
    WHERE f.refund_state = 2 AND f.refund_time IS NOT NULL
) e
GROUP BY day, spu_id, sku_id;

COMMENT ON VIEW report_goods_sales IS
    'Per Shanghai day and spu_id/sku_id: orders, quantity, gross (unit_price*quantity), revenue '
    '(actual_fee) of goods in orders paid that day; refunds and refunded (refund_amount) of '
    'successful refunds that day, by the goods they name (NULL ids: the refund names none). Fen.';

-- One row per Shanghai day (of refund_time), refund_state and refund_type, over every refund
-- record in any state: 0 待退款, 1 退款中, 2 退款成功, 3 退款失败; type 1 全额退款, 2 部分退款.
-- Records with no refund_time are on day NULL. Only state 2 is money returned.
CREATE VIEW report_refunds AS
SELECT (refund_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
       refund_state,
       min(refund_state_description) AS refund_state_description,
       refund_type,
       min(refund_type_description) AS refund_type_description,
       count(*) AS refunds,
       count(DISTINCT order_id) AS orders,
       coalesce(sum(refund_amount), 0)::bigint AS refund_amount
FROM order_refunds
GROUP BY 1, refund_state, refund_type;

COMMENT ON VIEW report_refunds IS
    'Refund records per Shanghai day of refund_time, refund_state and refund_type (all states): '
    'refunds, orders, refund_amount in fen. Money returned is refund_state 2 only.';

-- One row per refund record, in any state, with the goods it names (NULL when it names none)
-- and the Shanghai day the order was paid.
CREATE VIEW report_refund_goods AS
SELECT (f.refund_time AT TIME ZONE 'Asia/Shanghai')::date AS day,
       f.refund_time,
       f.order_id,
       f.refund_no,
       f.after_sale_id,
       f.refund_state,
       f.refund_state_description,
       f.refund_type,
       f.refund_type_description,
       f.refund_amount,
       rg.spu_id,
       rg.sku_id,
       rg.spu_type,
       rg.goods_name,
       rg.goods_spec_description,
       rg.quantity,
       r.pay_day AS order_pay_day
FROM order_refunds f
LEFT JOIN order_refund_goods rg ON rg.order_id = f.order_id AND rg.refund_no = f.refund_no
LEFT JOIN report_orders r ON r.order_id = f.order_id;

COMMENT ON VIEW report_refund_goods IS
    'One row per refund record (any state): Shanghai day of refund_time, state, type, '
    'refund_amount (fen), the goods it names (NULL when none) and the order''s pay_day.';

-- One row per package.
--
-- first_trace_* and last_trace_* are the package's earliest and latest traces by time (the
-- API's list order is not relied on; ties go to the earlier position as the newer, as the
-- API lists traces newest first). delivered: the last trace says 签收 (signed for), but not
-- 拒签收/拒绝签收/待签收/未签收/不签收/无人签收 or 签收失败. time_to_delivery = last trace time
-- - departure_time (发货时间) for delivered packages, NULL otherwise; hours_to_delivery is the
-- same in hours, rounded to 0.01.
CREATE VIEW report_packages AS
SELECT p.order_id,
       p.package_no,
       p.logistics_company_name,
       p.express_id,
       p.logistics_state_description,
       p.departure_time,
       (p.departure_time AT TIME ZONE 'Asia/Shanghai')::date AS ship_day,
       coalesce(n.traces, 0) AS traces,
       ft.time AS first_trace_time,
       ft.text AS first_trace_text,
       lt.time AS last_trace_time,
       lt.text AS last_trace_text,
       d.delivered,
       CASE WHEN d.delivered THEN lt.time - p.departure_time END AS time_to_delivery,
       CASE WHEN d.delivered
            THEN round(extract(epoch FROM lt.time - p.departure_time) / 3600, 2) END AS hours_to_delivery
FROM order_packages p
LEFT JOIN LATERAL (
    SELECT count(*) AS traces FROM order_package_traces t
    WHERE t.order_id = p.order_id AND t.package_no = p.package_no
) n ON true
LEFT JOIN LATERAL (
    SELECT t.time, t.text FROM order_package_traces t
    WHERE t.order_id = p.order_id AND t.package_no = p.package_no
    ORDER BY t.time ASC NULLS LAST, t.entry_no DESC
    LIMIT 1
) ft ON true
LEFT JOIN LATERAL (
    SELECT t.time, t.text FROM order_package_traces t
    WHERE t.order_id = p.order_id AND t.package_no = p.package_no
    ORDER BY t.time DESC NULLS LAST, t.entry_no ASC
    LIMIT 1
) lt ON true
CROSS JOIN LATERAL (
    SELECT coalesce(lt.text ~ '签收' AND lt.text !~ '(拒|拒绝|待|未|不|无人)签收|签收失败', false) AS delivered
) d;

COMMENT ON VIEW report_packages IS
    'One row per package: carrier, express_id, departure_time (ship time) and its Shanghai '
    'ship_day, first and last trace by time, delivered (last trace says 签收, not a refusal or '
    'a wait), time_to_delivery = last trace time - departure_time when delivered, else NULL.';

-- One row per carrier (logistics_company_name).
CREATE VIEW report_carriers AS
SELECT logistics_company_name,
       count(*) AS packages,
       count(*) FILTER (WHERE delivered) AS delivered,
       round(avg(extract(epoch FROM time_to_delivery)) / 3600, 2) AS avg_hours_to_delivery,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM time_to_delivery)) / 3600)::numeric, 2)
           AS median_hours_to_delivery,
       min(departure_time) AS first_departure_time,
       max(departure_time) AS last_departure_time
FROM report_packages
GROUP BY logistics_company_name;

COMMENT ON VIEW report_carriers IS
    'Per carrier: packages, delivered, average and median hours from departure_time to the '
    'delivering trace (delivered packages only), first and last departure_time.';

-- One row per goods line, with its order and buyer; an order without goods lines has one row
-- with the line columns NULL. Order-level money is deliberately absent: summing it over lines
-- would count it once per line. Sum the line amounts, or use report_orders.
CREATE VIEW order_lines AS
SELECT r.order_id,
       r.app_id,
       r.user_id,
       b.nickname,
       b.phone_number,
       r.order_state,
       r.order_state_description,
       r.order_close_type,
       r.order_close_type_description,
       r.order_create_time,
       r.create_day,
       r.order_pay_time,
       r.paid,
       r.pay_day,
       g.line_no,
       g.spu_id,
       g.sku_id,
       g.spu_type,
       g.goods_name,
       g.goods_spec_description,
       g.quantity,
       g.unit_price,
       g.actual_fee,
       g.refund_state,
       g.refund_state_description,
       g.refund_amount,
       g.ship_state,
       g.ship_state_description
FROM report_orders r
LEFT JOIN order_buyers b ON b.order_id = r.order_id
LEFT JOIN order_goods g ON g.order_id = r.order_id;

COMMENT ON VIEW order_lines IS
    'One row per goods line with its order (state, Shanghai create_day/pay_day, paid) and buyer; '
    'orders without lines get one row. No order-level money: it would repeat on every line.';
