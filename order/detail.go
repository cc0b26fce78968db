package order

import "github.com/go-json-experiment/json/jsontext"

// Detail is the data object of order detail 2.0 (xe.ecommerce.order.detail/1.0.0).
// The JSON names are the API's; Flatten turns them into column names unchanged.
type Detail struct {
	BuyerInfo         BuyerInfo         `json:"buyer_info"`
	GoodsInfo         GoodsInfo         `json:"goods_info"`
	InternalExtraInfo InternalExtraInfo `json:"internal_extra_info"`
	InvoiceInfo       InvoiceInfo       `json:"invoice_info"`
	OrderInfo         OrderInfo         `json:"order_info"`
	PaymentInfo       PaymentInfo       `json:"payment_info"`
	PriceInfo         PriceInfo         `json:"price_info"`
	ThirdPartyInfo    ThirdPartyInfo    `json:"third_party_info"`
}

type BuyerInfo struct {
	AvatarURL              Str  `json:"avatar_url"`
	Comment                Str  `json:"comment"`
	HasResult              Bool `json:"has_result"`
	InfoCollectPhoneNumber Str  `json:"info_collect_phone_number"`
	Nickname               Str  `json:"nickname"`
	PhoneNumber            Str  `json:"phone_number"`
	UserID                 Str  `json:"user_id"`
}

type GoodsInfo struct {
	GoodsList List[Goods] `json:"goods_list"`
	HasResult Bool        `json:"has_result"`
}

// GoodsFields are the fields shared by a goods line, a package's goods line and a refund's
// goods. It has no UnmarshalJSON of its own on purpose: an embedded one would take over
// the decoding of the types that embed it.
type GoodsFields struct {
	ActualFee                    Fen           `json:"actual_fee"`
	AppID                        Str           `json:"app_id"`
	CheckState                   Int           `json:"check_state"`
	CheckStateDescription        Str           `json:"check_state_description"`
	DiscountsInfo                DiscountsInfo `json:"discounts_info"`
	ExpireDesc                   Str           `json:"expire_desc"`
	ExpireDisplay                Bool          `json:"expire_display"`
	ExpireEnd                    Time          `json:"expire_end"`
	ExpireStart                  Time          `json:"expire_start"`
	GoodsDescription             Str           `json:"goods_description"`
	GoodsImage                   Str           `json:"goods_image"`
	GoodsName                    Str           `json:"goods_name"`
	GoodsSn                      Str           `json:"goods_sn"`
	GoodsSpecDescription         Str           `json:"goods_spec_description"`
	ModifiedAmount               Fen           `json:"modified_amount"`
	PeriodType                   Int           `json:"period_type"`
	Quantity                     Int           `json:"quantity"`
	RefundAmount                 Fen           `json:"refund_amount"`
	RefundState                  Int           `json:"refund_state"`
	RefundStateDescription       Str           `json:"refund_state_description"`
	RefundableAmount             Fen           `json:"refundable_amount"`
	RelationGoodsID              Str           `json:"relation_goods_id"`
	RelationGoodsType            Int           `json:"relation_goods_type"`
	RelationGoodsTypeDescription Str           `json:"relation_goods_type_description"`
	RemainCount                  Int           `json:"remain_count"`
	ShipState                    Int           `json:"ship_state"`
	ShipStateDescription         Str           `json:"ship_state_description"`
	SkuID                        Str           `json:"sku_id"`
	SkuSpecCode                  Str           `json:"sku_spec_code"`
	SpecValue                    Str           `json:"spec_value"`
	SpuID                        Str           `json:"spu_id"`
	// SpuType is documented as numeric categories but sent as letter codes (ENT, COP): text.
	SpuType            Str `json:"spu_type"`
	SpuTypeDescription Str `json:"spu_type_description"`
	SubTotal           Fen `json:"sub_total"`
	TagDescription     Str `json:"tag_description"`
	UnitPrice          Fen `json:"unit_price"`
	VsCommission       Fen `json:"vs_commission"`
	VsNickName         Str `json:"vs_nick_name"`
	VsPlatformFee      Fen `json:"vs_platform_fee"`
}

// Goods is a line of goods_info.goods_list. Its paid_coupon_info is a list of coupons
// (documented as an array, sent as "" in the sample).
type Goods struct {
	GoodsFields
	PaidCouponInfo List[PaidCoupon] `json:"paid_coupon_info"`
}

// PackageGoods is a goods line of a package, and the goods of a refund record. Their
// paid_coupon_info is documented as a string and kept as text.
type PackageGoods struct {
	GoodsFields
	PaidCouponInfo Str `json:"paid_coupon_info"`
}

type DiscountsInfo struct {
	CouponsList                List[Discount] `json:"coupons_list"`
	DiscountsList              List[Discount] `json:"discounts_list"`
	MultiCouponsUsage          Bool           `json:"multi_coupons_usage"`
	NoCouponList               List[Discount] `json:"no_coupon_list"`
	TotalCouponsDiscountAmount Fen            `json:"total_coupons_discount_amount"`
}

type Discount struct {
	DiscountAmount             Fen `json:"discount_amount"`
	DiscountName               Str `json:"discount_name"`
	DiscountSubType            Int `json:"discount_sub_type"`
	DiscountSubTypeDescription Str `json:"discount_sub_type_description"`
}

type PaidCoupon struct {
	// AppID is typed "array" in the docs, surely a typo for the shop id string; Str keeps
	// either spelling.
	AppID          Str  `json:"app_id"`
	CouponCode     Str  `json:"coupon_code"`
	CouponPassword Str  `json:"coupon_password"`
	GoodsID        Str  `json:"goods_id"`
	OrderID        Str  `json:"order_id"`
	ReceiveAt      Time `json:"receive_at"`
	Stat           Int  `json:"stat"`
	UserID         Str  `json:"user_id"`
}

type InternalExtraInfo struct {
	AfterSaleInfo           AfterSaleInfo           `json:"after_sale_info"`
	ConsigneeInfo           ConsigneeInfo           `json:"consignee_info"`
	ContentDistributionInfo ContentDistributionInfo `json:"content_distribution_info"`
	IndentorInfo            IndentorInfo            `json:"indentor_info"`
	LogisticsInfo           LogisticsInfo           `json:"logistics_info"`
	RefundInfo              RefundInfo              `json:"refund_info"`
	StudentInfo             StudentInfo             `json:"student_info"`
	TalentDouyinInfo        TalentDouyinInfo        `json:"talent_douyin_info"`
	VeriCodeInfo            VeriCodeInfo            `json:"veri_code_info"`
}

type AfterSaleInfo struct {
	AfterSaleRecords List[AfterSaleRecord] `json:"after_sale_records"`
	HasResult        Bool                  `json:"has_result"`
}

type AfterSaleRecord struct {
	AfterSaleID Str `json:"after_sale_id"`
	GoodsName   Str `json:"goods_name"`
}

type ConsigneeInfo struct {
	Address            Str  `json:"address"`
	AddressCity        Str  `json:"address_city"`
	AddressCounty      Str  `json:"address_county"`
	AddressDetail      Str  `json:"address_detail"`
	AddressProvince    Str  `json:"address_province"`
	Contact            Str  `json:"contact"`
	ContactCountryCode Str  `json:"contact_country_code"`
	ExpressType        Int  `json:"express_type"`
	FullContact        Str  `json:"full_contact"`
	HasResult          Bool `json:"has_result"`
	Name               Str  `json:"name"`
}

type ContentDistributionInfo struct {
	ChannelOrderActualPrice Fen   `json:"channel_order_actual_price"`
	DistributionAmount      Fen   `json:"distribution_amount"`
	DistributionRatio       Ratio `json:"distribution_ratio"`
	HasResult               Bool  `json:"has_result"`
	IsChannel               Bool  `json:"is_channel"`
	MarketName              Str   `json:"market_name"`
	RelationAppImage        Str   `json:"relation_app_image"`
	RelationAppName         Str   `json:"relation_app_name"`
	TypeDescription         Str   `json:"type_description"`
}

type IndentorInfo struct {
	HasResult              Bool `json:"has_result"`
	IndentorAvatar         Str  `json:"indentor_avatar"`
	IndentorDeductQuota    Int  `json:"indentor_deduct_quota"`
	IndentorID             Str  `json:"indentor_id"`
	IndentorName           Str  `json:"indentor_name"`
	IndentorPhone          Str  `json:"indentor_phone"`
	IndentorRemainingQuota Int  `json:"indentor_remaining_quota"`
	IndentorStaffID        Str  `json:"indentor_staff_id"`
	IndentorStaffName      Str  `json:"indentor_staff_name"`
	IndentorStaffPhone     Str  `json:"indentor_staff_phone"`
}

type LogisticsInfo struct {
	HasResult    Bool          `json:"has_result"`
	PackagesInfo List[Package] `json:"packages_info"`
}

type Package struct {
	DepartureTime             Time               `json:"departure_time"`
	ElectronicOrderFailReason Str                `json:"electronic_order_fail_reason"`
	ExpressID                 Str                `json:"express_id"`
	LogisticsCompanyName      Str                `json:"logistics_company_name"`
	LogisticsStateDescription Str                `json:"logistics_state_description"`
	PackageGoodsInfo          List[PackageGoods] `json:"package_goods_info"`
	PackageTraceInfo          List[PackageTrace] `json:"package_trace_info"`
	ParcelID                  Str                `json:"parcel_id"`
	ShipmentType              Int                `json:"shipment_type"`
}

type PackageTrace struct {
	Text Str  `json:"text"`
	Time Time `json:"time"`
}

type RefundInfo struct {
	HasResult     Bool               `json:"has_result"`
	RefundRecords List[RefundRecord] `json:"refund_records"`
}

type RefundRecord struct {
	AfterSaleID            Str          `json:"after_sale_id"`
	GoodsInfo              PackageGoods `json:"goods_info"`
	IsDeletePurchase       Int          `json:"is_delete_purchase"`
	Operator               Str          `json:"operator"`
	RefundAmount           Fen          `json:"refund_amount"`
	RefundState            Int          `json:"refund_state"`
	RefundStateDescription Str          `json:"refund_state_description"`
	RefundTime             Time         `json:"refund_time"`
	RefundType             Int          `json:"refund_type"`
	RefundTypeDescription  Str          `json:"refund_type_description"`
	Remark                 Str          `json:"remark"`
}

type StudentInfo struct {
	BirthDate              Date            `json:"birth_date"`
	CData                  List[StudentKV] `json:"c_data"`
	ContactAddress         Str             `json:"contact_address"`
	CourseOfflineID        Str             `json:"course_offline_id"`
	Gender                 Int             `json:"gender"`
	Grade                  Str             `json:"grade"`
	HasResult              Bool            `json:"has_result"`
	IntentionSchool        Str             `json:"intention_school"`
	IntentionSchoolAddress Str             `json:"intention_school_address"`
	// IntentionTime stays text: people type free text there.
	IntentionTime Str `json:"intention_time"`
	Name          Str `json:"name"`
	OrderID       Str `json:"order_id"`
	Phone         Str `json:"phone"`
	// StudentID appears in the response example only, not in the field table.
	StudentID Str `json:"student_id"`
	UserID    Str `json:"user_id"`
	WechatID  Str `json:"wechat_id"`
}

type StudentKV struct {
	Key   Str `json:"key"`
	Value Str `json:"value"`
}

type TalentDouyinInfo struct {
	HasResult      Bool `json:"has_result"`
	Nickname       Str  `json:"nickname"`
	TalentDouyinID Str  `json:"talent_douyin_id"`
}

type VeriCodeInfo struct {
	HasResult    Bool           `json:"has_result"`
	RemainCount  Int            `json:"remain_count"`
	VeriCodeList List[VeriCode] `json:"veri_code_list"`
}

type VeriCode struct {
	AppID             Str  `json:"app_id"`
	CheckTime         Time `json:"check_time"`
	CheckType         Int  `json:"check_type"`
	GoodsImg          Str  `json:"goods_img"`
	Operator          Str  `json:"operator"`
	OperatorContact   Str  `json:"operator_contact"`
	OrderID           Str  `json:"order_id"`
	Price             Fen  `json:"price"`
	SkuID             Str  `json:"sku_id"`
	SpuID             Str  `json:"spu_id"`
	SpuName           Str  `json:"spu_name"`
	Status            Int  `json:"status"`
	StatusDescription Str  `json:"status_description"`
	UserContact       Str  `json:"user_contact"`
	UserID            Str  `json:"user_id"`
	UserName          Str  `json:"user_name"`
	VeriCode          Str  `json:"veri_code"`
}

type InvoiceInfo struct {
	Bank              Str  `json:"bank"`
	BankAccount       Str  `json:"bank_account"`
	Content           Str  `json:"content"`
	Email             Str  `json:"email"`
	HasResult         Bool `json:"has_result"`
	PhoneNumber       Str  `json:"phone_number"`
	RegisteredAddress Str  `json:"registered_address"`
	RegisteredContact Str  `json:"registered_contact"`
	TaxID             Str  `json:"tax_id"`
	Title             Str  `json:"title"`
}

type OrderInfo struct {
	ActivityDescription       Str  `json:"activity_description"`
	AfterSaleShowState        Int  `json:"after_sale_show_state"`
	AppID                     Str  `json:"app_id"`
	AppType                   Int  `json:"app_type"`
	AppTypeDescription        Str  `json:"app_type_description"`
	CanModifyPrice            Bool `json:"can_modify_price"`
	CantModifyPriceReason     Str  `json:"cant_modify_price_reason"`
	ChannelSourceDescription  Str  `json:"channel_source_description"`
	ChannelType               Int  `json:"channel_type"`
	CollectionType            Int  `json:"collection_type"`
	CollectionTypeDescription Str  `json:"collection_type_description"`
	CommunityName             Str  `json:"community_name"`
	DiscountDescription       Str  `json:"discount_description"`
	DiscountJumpURL           Str  `json:"discount_jump_url"`
	RedeemBatchID             Str  `json:"redeem_batch_id"`
	RedeemActivityID          Str  `json:"redeem_activity_id"`
	RedeemCode                Str  `json:"redeem_code"`
	DistributionDescription   Str  `json:"distribution_description"`
	EstimateSettleTime        Time `json:"estimate_settle_time"`
	FinderNickname            Str  `json:"finder_nickname"`
	GiftAvailableCount        Int  `json:"gift_available_count"`
	GiftBatchID               Str  `json:"gift_batch_id"`
	GiftClaimedCount          Int  `json:"gift_claimed_count"`
	GiftInvalidCount          Int  `json:"gift_invalid_count"`
	GiftTotalCount            Int  `json:"gift_total_count"`
	GoodsSpuType              Int  `json:"goods_spu_type"`
	HasResult                 Bool `json:"has_result"`
	KsAuthorID                Str  `json:"ks_author_id"`
	OrderCloseInfo            Str  `json:"order_close_info"`
	OrderCloseReason          Str  `json:"order_close_reason"`
	OrderCloseType            Int  `json:"order_close_type"`
	OrderCloseTypeDescription Str  `json:"order_close_type_description"`
	OrderCreateTime           Time `json:"order_create_time"`
	OrderID                   Str  `json:"order_id"`
	OrderPayTime              Time `json:"order_pay_time"`
	OrderSettleTime           Time `json:"order_settle_time"`
	OrderSpuType              Str  `json:"order_spu_type"`
	OrderState                Int  `json:"order_state"`
	OrderStateDescription     Str  `json:"order_state_description"`
	OrderType                 Int  `json:"order_type"`
	OrderTypeDescription      Str  `json:"order_type_description"`
	PaymentType               Int  `json:"payment_type"`
	PaymentTypeDescription    Str  `json:"payment_type_description"`
	PlanAutoCancelTime        Time `json:"plan_auto_cancel_time"`
	PlanAutoConfirmTime       Time `json:"plan_auto_confirm_time"`
	// PlanAutoConfirmTimestamp stays the Unix seconds it is.
	PlanAutoConfirmTimestamp Int64 `json:"plan_auto_confirm_timestamp"`
	PromoterType             Int   `json:"promoter_type"`
	RelationAppID            Str   `json:"relation_app_id"`
	RelationOrderID          Str   `json:"relation_order_id"`
	RelationOrderType        Int   `json:"relation_order_type"`
	SettleState              Int   `json:"settle_state"`
	SubMerchantID            Str   `json:"sub_merchant_id"`
	UserID                   Str   `json:"user_id"`
}

type PaymentInfo struct {
	HasResult     Bool `json:"has_result"`
	OutOrderID    Str  `json:"out_order_id"`
	TransactionID Str  `json:"transaction_id"`
}

type PriceInfo struct {
	Collectibles           Fen  `json:"collectibles"`
	EarnedRevenue          Fen  `json:"earned_revenue"`
	GoodsModifiedAmount    Fen  `json:"goods_modified_amount"`
	GoodsTotalCount        Int  `json:"goods_total_count"`
	GrossTotal             Fen  `json:"gross_total"`
	HasResult              Bool `json:"has_result"`
	ShipmentFee            Fen  `json:"shipment_fee"`
	ShipmentModifiedAmount Fen  `json:"shipment_modified_amount"`
	TotalModifiedAmount    Fen  `json:"total_modified_amount"`
}

type ThirdPartyInfo struct {
	DouyinInfo    DouyinInfo    `json:"douyin_info"`
	QuickHandInfo QuickHandInfo `json:"quick_hand_info"`
}

type DouyinInfo struct {
	DyNickName Str  `json:"dy_nick_name"`
	HasResult  Bool `json:"has_result"`
	ServiceFee Fen  `json:"service_fee"`
}

type QuickHandInfo struct {
	AuthorID  Str  `json:"author_id"`
	HasResult Bool `json:"has_result"`
	ItemID    Str  `json:"item_id"`
	ItemType  Str  `json:"item_type"`
}

// Each section accepts null, "", [] and {} for "no section": the API is PHP behind, and an
// empty PHP array serialises as [].
func (s *Detail) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain Detail
	return decodeSection(dec, (*plain)(s))
}
func (s *BuyerInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain BuyerInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *GoodsInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain GoodsInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *DiscountsInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain DiscountsInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *InternalExtraInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain InternalExtraInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *AfterSaleInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain AfterSaleInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *ConsigneeInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain ConsigneeInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *ContentDistributionInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain ContentDistributionInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *IndentorInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain IndentorInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *LogisticsInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain LogisticsInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *RefundInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain RefundInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *StudentInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain StudentInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *TalentDouyinInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain TalentDouyinInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *VeriCodeInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain VeriCodeInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *InvoiceInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain InvoiceInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *OrderInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain OrderInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *PaymentInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain PaymentInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *PriceInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain PriceInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *ThirdPartyInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain ThirdPartyInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *DouyinInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain DouyinInfo
	return decodeSection(dec, (*plain)(s))
}
func (s *QuickHandInfo) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain QuickHandInfo
	return decodeSection(dec, (*plain)(s))
}

func (s *Goods) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain Goods
	return decodeSection(dec, (*plain)(s))
}

// The list elements and RefundRecord.GoodsInfo need the same tolerance: a refund record's
// goods may be [] when the refund is for the whole order.
func (s *PackageGoods) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	type plain PackageGoods
	return decodeSection(dec, (*plain)(s))
}
