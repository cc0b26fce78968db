-- The order tables. One rule makes them: each object section of order detail 2.0 is a table
-- keyed by order_id; each list is a table keyed by order_id plus the 0-based positions of its
-- element in the API's lists. Column names are the API's field names, so the API's field
-- table is the data dictionary. Money is bigint fen; times are timestamptz (the API sends
-- Beijing time); "", "--" and the zero-time sentinels are NULL.
-- +goose Up

CREATE TABLE orders (
    order_id                                 text NOT NULL,
    activity_description                     text,
    after_sale_show_state                    integer,
    app_id                                   text,
    app_type                                 integer,
    app_type_description                     text,
    can_modify_price                         boolean,
    cant_modify_price_reason                 text,
    channel_source_description               text,
    channel_type                             integer,
    collection_type                          integer,
    collection_type_description              text,
    community_name                           text,
    discount_description                     text,
    discount_jump_url                        text,
    redeem_batch_id                          text,
    redeem_activity_id                       text,
    redeem_code                              text,
    distribution_description                 text,
    estimate_settle_time                     timestamptz,
    finder_nickname                          text,
    gift_available_count                     integer,
    gift_batch_id                            text,
    gift_claimed_count                       integer,
    gift_invalid_count                       integer,
    gift_total_count                         integer,
    goods_spu_type                           integer,
    has_result                               boolean,
    ks_author_id                             text,
    order_close_info                         text,
    order_close_reason                       text,
    order_close_type                         integer,
    order_close_type_description             text,
    order_create_time                        timestamptz,
    order_pay_time                           timestamptz,
    order_settle_time                        timestamptz,
    order_spu_type                           text,
    order_state                              integer,
    order_state_description                  text,
    order_type                               integer,
    order_type_description                   text,
    payment_type                             integer,
    payment_type_description                 text,
    plan_auto_cancel_time                    timestamptz,
    plan_auto_confirm_time                   timestamptz,
    plan_auto_confirm_timestamp              bigint,
    promoter_type                            integer,
    relation_app_id                          text,
    relation_order_id                        text,
    relation_order_type                      integer,
    settle_state                             integer,
    sub_merchant_id                          text,
    user_id                                  text,
    goods_info_has_result                    boolean,
    after_sale_info_has_result               boolean,
    logistics_info_has_result                boolean,
    refund_info_has_result                   boolean,
    update_time                              timestamptz,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_buyers (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    avatar_url                               text,
    comment                                  text,
    has_result                               boolean,
    info_collect_phone_number                text,
    nickname                                 text,
    phone_number                             text,
    user_id                                  text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_prices (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    collectibles                             bigint,
    earned_revenue                           bigint,
    goods_modified_amount                    bigint,
    goods_total_count                        integer,
    gross_total                              bigint,
    has_result                               boolean,
    shipment_fee                             bigint,
    shipment_modified_amount                 bigint,
    total_modified_amount                    bigint,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_payments (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    has_result                               boolean,
    out_order_id                             text,
    transaction_id                           text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_invoices (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    bank                                     text,
    bank_account                             text,
    content                                  text,
    email                                    text,
    has_result                               boolean,
    phone_number                             text,
    registered_address                       text,
    registered_contact                       text,
    tax_id                                   text,
    title                                    text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_goods (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_no                                  integer NOT NULL,
    actual_fee                               bigint,
    app_id                                   text,
    check_state                              integer,
    check_state_description                  text,
    expire_desc                              text,
    expire_display                           boolean,
    expire_end                               timestamptz,
    expire_start                             timestamptz,
    goods_description                        text,
    goods_image                              text,
    goods_name                               text,
    goods_sn                                 text,
    goods_spec_description                   text,
    modified_amount                          bigint,
    period_type                              integer,
    quantity                                 integer,
    refund_amount                            bigint,
    refund_state                             integer,
    refund_state_description                 text,
    refundable_amount                        bigint,
    relation_goods_id                        text,
    relation_goods_type                      integer,
    relation_goods_type_description          text,
    remain_count                             integer,
    ship_state                               integer,
    ship_state_description                   text,
    sku_id                                   text,
    sku_spec_code                            text,
    spec_value                               text,
    spu_id                                   text,
    spu_type                                 text,
    spu_type_description                     text,
    sub_total                                bigint,
    tag_description                          text,
    unit_price                               bigint,
    vs_commission                            bigint,
    vs_nick_name                             text,
    vs_platform_fee                          bigint,
    multi_coupons_usage                      boolean,
    total_coupons_discount_amount            bigint,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_goods_discounts (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_no                                  integer NOT NULL,
    kind                                     text NOT NULL,
    entry_no                                 integer NOT NULL,
    discount_amount                          bigint,
    discount_name                            text,
    discount_sub_type                        integer,
    discount_sub_type_description            text,
    PRIMARY KEY (order_id, line_no, kind, entry_no)
);

CREATE TABLE order_goods_paid_coupons (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_no                                  integer NOT NULL,
    entry_no                                 integer NOT NULL,
    app_id                                   text,
    coupon_code                              text,
    coupon_password                          text,
    goods_id                                 text,
    receive_at                               timestamptz,
    stat                                     integer,
    user_id                                  text,
    PRIMARY KEY (order_id, line_no, entry_no)
);

CREATE TABLE order_after_sales (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    entry_no                                 integer NOT NULL,
    after_sale_id                            text,
    goods_name                               text,
    PRIMARY KEY (order_id, entry_no)
);

CREATE TABLE order_consignees (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    address                                  text,
    address_city                             text,
    address_county                           text,
    address_detail                           text,
    address_province                         text,
    contact                                  text,
    contact_country_code                     text,
    express_type                             integer,
    full_contact                             text,
    has_result                               boolean,
    name                                     text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_distributions (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    channel_order_actual_price               bigint,
    distribution_amount                      bigint,
    distribution_ratio                       numeric,
    has_result                               boolean,
    is_channel                               boolean,
    market_name                              text,
    relation_app_image                       text,
    relation_app_name                        text,
    type_description                         text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_indentors (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    has_result                               boolean,
    indentor_avatar                          text,
    indentor_deduct_quota                    integer,
    indentor_id                              text,
    indentor_name                            text,
    indentor_phone                           text,
    indentor_remaining_quota                 integer,
    indentor_staff_id                        text,
    indentor_staff_name                      text,
    indentor_staff_phone                     text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_packages (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    package_no                               integer NOT NULL,
    departure_time                           timestamptz,
    electronic_order_fail_reason             text,
    express_id                               text,
    logistics_company_name                   text,
    logistics_state_description              text,
    parcel_id                                text,
    shipment_type                            integer,
    PRIMARY KEY (order_id, package_no)
);

CREATE TABLE order_package_goods (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    package_no                               integer NOT NULL,
    line_no                                  integer NOT NULL,
    actual_fee                               bigint,
    app_id                                   text,
    check_state                              integer,
    check_state_description                  text,
    expire_desc                              text,
    expire_display                           boolean,
    expire_end                               timestamptz,
    expire_start                             timestamptz,
    goods_description                        text,
    goods_image                              text,
    goods_name                               text,
    goods_sn                                 text,
    goods_spec_description                   text,
    modified_amount                          bigint,
    period_type                              integer,
    quantity                                 integer,
    refund_amount                            bigint,
    refund_state                             integer,
    refund_state_description                 text,
    refundable_amount                        bigint,
    relation_goods_id                        text,
    relation_goods_type                      integer,
    relation_goods_type_description          text,
    remain_count                             integer,
    ship_state                               integer,
    ship_state_description                   text,
    sku_id                                   text,
    sku_spec_code                            text,
    spec_value                               text,
    spu_id                                   text,
    spu_type                                 text,
    spu_type_description                     text,
    sub_total                                bigint,
    tag_description                          text,
    unit_price                               bigint,
    vs_commission                            bigint,
    vs_nick_name                             text,
    vs_platform_fee                          bigint,
    paid_coupon_info                         text,
    multi_coupons_usage                      boolean,
    total_coupons_discount_amount            bigint,
    PRIMARY KEY (order_id, package_no, line_no)
);

CREATE TABLE order_package_goods_discounts (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    package_no                               integer NOT NULL,
    line_no                                  integer NOT NULL,
    kind                                     text NOT NULL,
    entry_no                                 integer NOT NULL,
    discount_amount                          bigint,
    discount_name                            text,
    discount_sub_type                        integer,
    discount_sub_type_description            text,
    PRIMARY KEY (order_id, package_no, line_no, kind, entry_no)
);

CREATE TABLE order_package_traces (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    package_no                               integer NOT NULL,
    entry_no                                 integer NOT NULL,
    text                                     text,
    time                                     timestamptz,
    PRIMARY KEY (order_id, package_no, entry_no)
);

CREATE TABLE order_refunds (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    refund_no                                integer NOT NULL,
    after_sale_id                            text,
    is_delete_purchase                       integer,
    operator                                 text,
    refund_amount                            bigint,
    refund_state                             integer,
    refund_state_description                 text,
    refund_time                              timestamptz,
    refund_type                              integer,
    refund_type_description                  text,
    remark                                   text,
    PRIMARY KEY (order_id, refund_no)
);

CREATE TABLE order_refund_goods (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    refund_no                                integer NOT NULL,
    actual_fee                               bigint,
    app_id                                   text,
    check_state                              integer,
    check_state_description                  text,
    expire_desc                              text,
    expire_display                           boolean,
    expire_end                               timestamptz,
    expire_start                             timestamptz,
    goods_description                        text,
    goods_image                              text,
    goods_name                               text,
    goods_sn                                 text,
    goods_spec_description                   text,
    modified_amount                          bigint,
    period_type                              integer,
    quantity                                 integer,
    refund_amount                            bigint,
    refund_state                             integer,
    refund_state_description                 text,
    refundable_amount                        bigint,
    relation_goods_id                        text,
    relation_goods_type                      integer,
    relation_goods_type_description          text,
    remain_count                             integer,
    ship_state                               integer,
    ship_state_description                   text,
    sku_id                                   text,
    sku_spec_code                            text,
    spec_value                               text,
    spu_id                                   text,
    spu_type                                 text,
    spu_type_description                     text,
    sub_total                                bigint,
    tag_description                          text,
    unit_price                               bigint,
    vs_commission                            bigint,
    vs_nick_name                             text,
    vs_platform_fee                          bigint,
    paid_coupon_info                         text,
    multi_coupons_usage                      boolean,
    total_coupons_discount_amount            bigint,
    PRIMARY KEY (order_id, refund_no)
);

CREATE TABLE order_refund_goods_discounts (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    refund_no                                integer NOT NULL,
    kind                                     text NOT NULL,
    entry_no                                 integer NOT NULL,
    discount_amount                          bigint,
    discount_name                            text,
    discount_sub_type                        integer,
    discount_sub_type_description            text,
    PRIMARY KEY (order_id, refund_no, kind, entry_no)
);

CREATE TABLE order_students (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    birth_date                               date,
    contact_address                          text,
    course_offline_id                        text,
    gender                                   integer,
    grade                                    text,
    has_result                               boolean,
    intention_school                         text,
    intention_school_address                 text,
    intention_time                           text,
    name                                     text,
    phone                                    text,
    student_id                               text,
    user_id                                  text,
    wechat_id                                text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_student_data (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    entry_no                                 integer NOT NULL,
    key                                      text,
    value                                    text,
    PRIMARY KEY (order_id, entry_no)
);

CREATE TABLE order_talent_douyin (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    has_result                               boolean,
    nickname                                 text,
    talent_douyin_id                         text,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_veri_info (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    has_result                               boolean,
    remain_count                             integer,
    PRIMARY KEY (order_id)
);

CREATE TABLE order_veri_codes (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    entry_no                                 integer NOT NULL,
    app_id                                   text,
    check_time                               timestamptz,
    check_type                               integer,
    goods_img                                text,
    operator                                 text,
    operator_contact                         text,
    price                                    bigint,
    sku_id                                   text,
    spu_id                                   text,
    spu_name                                 text,
    status                                   integer,
    status_description                       text,
    user_contact                             text,
    user_id                                  text,
    user_name                                text,
    veri_code                                text,
    PRIMARY KEY (order_id, entry_no)
);

CREATE TABLE order_third_party (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    dy_nick_name                             text,
    douyin_info_has_result                   boolean,
    service_fee                              bigint,
    author_id                                text,
    quick_hand_info_has_result               boolean,
    item_id                                  text,
    item_type                                text,
    PRIMARY KEY (order_id)
);

-- The raw payloads, as received: replay rebuilds the tables from them, and fields the API
-- adds later are never lost. content_hash is the hash of detail; an order whose hash is
-- unchanged is not rewritten.
CREATE TABLE order_payloads (
    order_id                                 text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    detail                                   jsonb NOT NULL,
    list_item                                jsonb,
    content_hash                             bytea NOT NULL,
    fetched_at                               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id)
);

-- lz4 compresses the payloads several times faster than the default pglz, which made the
-- payloads the slowest part of a batch write. Servers built without lz4 keep pglz.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE order_payloads ALTER COLUMN detail SET COMPRESSION lz4,
                                   ALTER COLUMN list_item SET COMPRESSION lz4;
    END IF;
END
$$;
-- +goose StatementEnd

-- What reports filter and join on.
CREATE INDEX orders_order_create_time_idx ON orders (order_create_time);
CREATE INDEX orders_order_pay_time_idx ON orders (order_pay_time);
CREATE INDEX orders_update_time_idx ON orders (update_time);
CREATE INDEX orders_user_id_idx ON orders (user_id);
CREATE INDEX orders_order_state_idx ON orders (order_state);
CREATE INDEX order_goods_spu_id_sku_id_idx ON order_goods (spu_id, sku_id);
CREATE INDEX order_refunds_refund_time_idx ON order_refunds (refund_time);
CREATE INDEX order_packages_departure_time_idx ON order_packages (departure_time);

-- +goose Down
DROP TABLE order_payloads;
DROP TABLE order_third_party;
DROP TABLE order_veri_codes;
DROP TABLE order_veri_info;
DROP TABLE order_talent_douyin;
DROP TABLE order_student_data;
DROP TABLE order_students;
DROP TABLE order_refund_goods_discounts;
DROP TABLE order_refund_goods;
DROP TABLE order_refunds;
DROP TABLE order_package_traces;
DROP TABLE order_package_goods_discounts;
DROP TABLE order_package_goods;
DROP TABLE order_packages;
DROP TABLE order_indentors;
DROP TABLE order_distributions;
DROP TABLE order_consignees;
DROP TABLE order_after_sales;
DROP TABLE order_goods_paid_coupons;
DROP TABLE order_goods_discounts;
DROP TABLE order_goods;
DROP TABLE order_invoices;
DROP TABLE order_payments;
DROP TABLE order_prices;
DROP TABLE order_buyers;
DROP TABLE orders;
