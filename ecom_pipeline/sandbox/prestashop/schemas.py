"""Recorded ``?schema=blank|synopsis`` documents of PrestaShop 8.2.1 (products, stock_availables), verbatim.

Kept as Python strings (not data files) so they ship with the package without packaging configuration.
``{API}`` stands for the webservice base URL the client addressed (the recording had http://127.0.0.1:8081/api).
"""

# ruff: noqa: E501

SCHEMAS: dict[tuple[str, str], str] = {}

SCHEMAS[("products", "blank")] = """<?xml version="1.0" encoding="UTF-8"?>
<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">
<product>
	<id><![CDATA[]]></id>
	<id_manufacturer><![CDATA[]]></id_manufacturer>
	<id_supplier><![CDATA[]]></id_supplier>
	<id_category_default><![CDATA[]]></id_category_default>
	<new><![CDATA[]]></new>
	<cache_default_attribute><![CDATA[]]></cache_default_attribute>
	<id_default_image><![CDATA[]]></id_default_image>
	<id_default_combination><![CDATA[]]></id_default_combination>
	<id_tax_rules_group><![CDATA[]]></id_tax_rules_group>
	<position_in_category><![CDATA[]]></position_in_category>
	<type><![CDATA[]]></type>
	<id_shop_default><![CDATA[]]></id_shop_default>
	<reference><![CDATA[]]></reference>
	<supplier_reference><![CDATA[]]></supplier_reference>
	<location><![CDATA[]]></location>
	<width><![CDATA[]]></width>
	<height><![CDATA[]]></height>
	<depth><![CDATA[]]></depth>
	<weight><![CDATA[]]></weight>
	<quantity_discount><![CDATA[]]></quantity_discount>
	<ean13><![CDATA[]]></ean13>
	<isbn><![CDATA[]]></isbn>
	<upc><![CDATA[]]></upc>
	<mpn><![CDATA[]]></mpn>
	<cache_is_pack><![CDATA[]]></cache_is_pack>
	<cache_has_attachments><![CDATA[]]></cache_has_attachments>
	<is_virtual><![CDATA[]]></is_virtual>
	<state><![CDATA[]]></state>
	<additional_delivery_times><![CDATA[]]></additional_delivery_times>
	<delivery_in_stock><language id="1"><![CDATA[]]></language></delivery_in_stock>
	<delivery_out_stock><language id="1"><![CDATA[]]></language></delivery_out_stock>
	<product_type><![CDATA[]]></product_type>
	<on_sale><![CDATA[]]></on_sale>
	<online_only><![CDATA[]]></online_only>
	<ecotax><![CDATA[]]></ecotax>
	<minimal_quantity><![CDATA[]]></minimal_quantity>
	<low_stock_threshold><![CDATA[]]></low_stock_threshold>
	<low_stock_alert><![CDATA[]]></low_stock_alert>
	<price><![CDATA[]]></price>
	<wholesale_price><![CDATA[]]></wholesale_price>
	<unity><![CDATA[]]></unity>
	<unit_price><![CDATA[]]></unit_price>
	<unit_price_ratio><![CDATA[]]></unit_price_ratio>
	<additional_shipping_cost><![CDATA[]]></additional_shipping_cost>
	<customizable><![CDATA[]]></customizable>
	<text_fields><![CDATA[]]></text_fields>
	<uploadable_files><![CDATA[]]></uploadable_files>
	<active><![CDATA[]]></active>
	<redirect_type><![CDATA[]]></redirect_type>
	<id_type_redirected><![CDATA[]]></id_type_redirected>
	<available_for_order><![CDATA[]]></available_for_order>
	<available_date><![CDATA[]]></available_date>
	<show_condition><![CDATA[]]></show_condition>
	<condition><![CDATA[]]></condition>
	<show_price><![CDATA[]]></show_price>
	<indexed><![CDATA[]]></indexed>
	<visibility><![CDATA[]]></visibility>
	<advanced_stock_management><![CDATA[]]></advanced_stock_management>
	<date_add><![CDATA[]]></date_add>
	<date_upd><![CDATA[]]></date_upd>
	<pack_stock_type><![CDATA[]]></pack_stock_type>
	<meta_description><language id="1"><![CDATA[]]></language></meta_description>
	<meta_keywords><language id="1"><![CDATA[]]></language></meta_keywords>
	<meta_title><language id="1"><![CDATA[]]></language></meta_title>
	<link_rewrite><language id="1"><![CDATA[]]></language></link_rewrite>
	<name><language id="1"><![CDATA[]]></language></name>
	<description><language id="1"><![CDATA[]]></language></description>
	<description_short><language id="1"><![CDATA[]]></language></description_short>
	<available_now><language id="1"><![CDATA[]]></language></available_now>
	<available_later><language id="1"><![CDATA[]]></language></available_later>
<associations>
<categories>
	<category>
	<id><![CDATA[]]></id>
	</category>
</categories>
<images>
	<image>
	<id><![CDATA[]]></id>
	</image>
</images>
<combinations>
	<combination>
	<id><![CDATA[]]></id>
	</combination>
</combinations>
<product_option_values>
	<product_option_value>
	<id><![CDATA[]]></id>
	</product_option_value>
</product_option_values>
<product_features>
	<product_feature>
	<id><![CDATA[]]></id>
	<id_feature_value><![CDATA[]]></id_feature_value>
	</product_feature>
</product_features>
<tags>
	<tag>
	<id><![CDATA[]]></id>
	</tag>
</tags>
<stock_availables>
	<stock_available>
	<id><![CDATA[]]></id>
	<id_product_attribute><![CDATA[]]></id_product_attribute>
	</stock_available>
</stock_availables>
<attachments>
	<attachment>
	<id><![CDATA[]]></id>
	</attachment>
</attachments>
<accessories>
	<product>
	<id><![CDATA[]]></id>
	</product>
</accessories>
<product_bundle>
	<product>
	<id><![CDATA[]]></id>
	<id_product_attribute><![CDATA[]]></id_product_attribute>
	<quantity><![CDATA[]]></quantity>
	</product>
</product_bundle>
</associations>
</product>
</prestashop>
"""

SCHEMAS[("products", "synopsis")] = """<?xml version="1.0" encoding="UTF-8"?>
<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">
<product>
	<id_manufacturer format="isUnsignedId"><![CDATA[]]></id_manufacturer>
	<id_supplier format="isUnsignedId"><![CDATA[]]></id_supplier>
	<id_category_default format="isUnsignedId"><![CDATA[]]></id_category_default>
	<new><![CDATA[]]></new>
	<cache_default_attribute><![CDATA[]]></cache_default_attribute>
	<id_default_image notFilterable="true"><![CDATA[]]></id_default_image>
	<id_default_combination notFilterable="true"><![CDATA[]]></id_default_combination>
	<id_tax_rules_group format="isUnsignedId"><![CDATA[]]></id_tax_rules_group>
	<position_in_category notFilterable="true"><![CDATA[]]></position_in_category>
	<manufacturer_name notFilterable="true" read_only="true" readOnly="true"><![CDATA[]]></manufacturer_name>
	<quantity notFilterable="true" read_only="true" readOnly="true"><![CDATA[]]></quantity>
	<type notFilterable="true"><![CDATA[]]></type>
	<id_shop_default format="isUnsignedId"><![CDATA[]]></id_shop_default>
	<reference maxSize="64" format="isReference"><![CDATA[]]></reference>
	<supplier_reference maxSize="64" format="isReference"><![CDATA[]]></supplier_reference>
	<location maxSize="255" format="isString"><![CDATA[]]></location>
	<width format="isUnsignedFloat"><![CDATA[]]></width>
	<height format="isUnsignedFloat"><![CDATA[]]></height>
	<depth format="isUnsignedFloat"><![CDATA[]]></depth>
	<weight format="isUnsignedFloat"><![CDATA[]]></weight>
	<quantity_discount format="isBool"><![CDATA[]]></quantity_discount>
	<ean13 maxSize="13" format="isEan13"><![CDATA[]]></ean13>
	<isbn maxSize="32" format="isIsbn"><![CDATA[]]></isbn>
	<upc maxSize="12" format="isUpc"><![CDATA[]]></upc>
	<mpn maxSize="40" format="isMpn"><![CDATA[]]></mpn>
	<cache_is_pack format="isBool"><![CDATA[]]></cache_is_pack>
	<cache_has_attachments format="isBool"><![CDATA[]]></cache_has_attachments>
	<is_virtual format="isBool"><![CDATA[]]></is_virtual>
	<state format="isUnsignedId"><![CDATA[]]></state>
	<additional_delivery_times format="isUnsignedId"><![CDATA[]]></additional_delivery_times>
	<delivery_in_stock maxSize="255" format="isGenericName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></delivery_in_stock>
	<delivery_out_stock maxSize="255" format="isGenericName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></delivery_out_stock>
	<product_type format="isGenericName"><![CDATA[]]></product_type>
	<on_sale format="isBool"><![CDATA[]]></on_sale>
	<online_only format="isBool"><![CDATA[]]></online_only>
	<ecotax format="isPrice"><![CDATA[]]></ecotax>
	<minimal_quantity format="isPositiveInt"><![CDATA[]]></minimal_quantity>
	<low_stock_threshold format="isInt"><![CDATA[]]></low_stock_threshold>
	<low_stock_alert format="isBool"><![CDATA[]]></low_stock_alert>
	<price required="true" format="isPrice"><![CDATA[]]></price>
	<wholesale_price format="isPrice"><![CDATA[]]></wholesale_price>
	<unity format="isString"><![CDATA[]]></unity>
	<unit_price format="isPrice"><![CDATA[]]></unit_price>
	<unit_price_ratio><![CDATA[]]></unit_price_ratio>
	<additional_shipping_cost format="isPrice"><![CDATA[]]></additional_shipping_cost>
	<customizable format="isUnsignedInt"><![CDATA[]]></customizable>
	<text_fields format="isUnsignedInt"><![CDATA[]]></text_fields>
	<uploadable_files format="isUnsignedInt"><![CDATA[]]></uploadable_files>
	<active format="isBool"><![CDATA[]]></active>
	<redirect_type format="isString"><![CDATA[]]></redirect_type>
	<id_type_redirected format="isUnsignedId"><![CDATA[]]></id_type_redirected>
	<available_for_order format="isBool"><![CDATA[]]></available_for_order>
	<available_date format="isDateFormat"><![CDATA[]]></available_date>
	<show_condition format="isBool"><![CDATA[]]></show_condition>
	<condition format="isGenericName"><![CDATA[]]></condition>
	<show_price format="isBool"><![CDATA[]]></show_price>
	<indexed format="isBool"><![CDATA[]]></indexed>
	<visibility format="isProductVisibility"><![CDATA[]]></visibility>
	<advanced_stock_management format="isBool"><![CDATA[]]></advanced_stock_management>
	<date_add format="isDate"><![CDATA[]]></date_add>
	<date_upd format="isDate"><![CDATA[]]></date_upd>
	<pack_stock_type format="isUnsignedInt"><![CDATA[]]></pack_stock_type>
	<meta_description maxSize="512" format="isGenericName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></meta_description>
	<meta_keywords maxSize="255" format="isGenericName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></meta_keywords>
	<meta_title maxSize="255" format="isGenericName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></meta_title>
	<link_rewrite maxSize="128" format="isLinkRewrite"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></link_rewrite>
	<name maxSize="128" format="isCatalogName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></name>
	<description maxSize="4194303" format="isCleanHtml"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></description>
	<description_short maxSize="4194303" format="isCleanHtml"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></description_short>
	<available_now maxSize="255" format="isGenericName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></available_now>
	<available_later maxSize="255" format="IsGenericName"><language id="1" xlink:href="{API}/languages/1" format="isUnsignedId" ><![CDATA[]]></language></available_later>
<associations>
<categories nodeType="category" api="categories">
	<category>
	<id required="true"><![CDATA[]]></id>
	</category>
</categories>
<images nodeType="image" api="images">
	<image>
	<id><![CDATA[]]></id>
	</image>
</images>
<combinations nodeType="combination" api="combinations">
	<combination>
	<id required="true"><![CDATA[]]></id>
	</combination>
</combinations>
<product_option_values nodeType="product_option_value" api="product_option_values">
	<product_option_value>
	<id required="true"><![CDATA[]]></id>
	</product_option_value>
</product_option_values>
<product_features nodeType="product_feature" api="product_features">
	<product_feature>
	<id required="true"><![CDATA[]]></id>
	<id_feature_value xlink:href="{API}/product_feature_values/" required="true"><![CDATA[]]></id_feature_value>
	</product_feature>
</product_features>
<tags nodeType="tag" api="tags">
	<tag>
	<id required="true"><![CDATA[]]></id>
	</tag>
</tags>
<stock_availables nodeType="stock_available" api="stock_availables">
	<stock_available>
	<id required="true"><![CDATA[]]></id>
	<id_product_attribute required="true"><![CDATA[]]></id_product_attribute>
	</stock_available>
</stock_availables>
<attachments nodeType="attachment" api="attachments">
	<attachment>
	<id required="true"><![CDATA[]]></id>
	</attachment>
</attachments>
<accessories nodeType="product" api="products">
	<product>
	<id xlink:href="{API}/products/" required="true"><![CDATA[]]></id>
	</product>
</accessories>
<product_bundle nodeType="product" api="products">
	<product>
	<id required="true"><![CDATA[]]></id>
	<id_product_attribute><![CDATA[]]></id_product_attribute>
	<quantity><![CDATA[]]></quantity>
	</product>
</product_bundle>
</associations>
</product>
</prestashop>
"""

SCHEMAS[("stock_availables", "blank")] = """<?xml version="1.0" encoding="UTF-8"?>
<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">
<stock_available>
	<id><![CDATA[]]></id>
	<id_product><![CDATA[]]></id_product>
	<id_product_attribute><![CDATA[]]></id_product_attribute>
	<id_shop><![CDATA[]]></id_shop>
	<id_shop_group><![CDATA[]]></id_shop_group>
	<quantity><![CDATA[]]></quantity>
	<depends_on_stock><![CDATA[]]></depends_on_stock>
	<out_of_stock><![CDATA[]]></out_of_stock>
	<location><![CDATA[]]></location>
</stock_available>
</prestashop>
"""

SCHEMAS[("stock_availables", "synopsis")] = """<?xml version="1.0" encoding="UTF-8"?>
<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">
<stock_available>
	<id_product required="true" format="isUnsignedId"><![CDATA[]]></id_product>
	<id_product_attribute required="true" format="isUnsignedId"><![CDATA[]]></id_product_attribute>
	<id_shop format="isUnsignedId"><![CDATA[]]></id_shop>
	<id_shop_group format="isUnsignedId"><![CDATA[]]></id_shop_group>
	<quantity required="true" format="isInt"><![CDATA[]]></quantity>
	<depends_on_stock required="true" format="isBool"><![CDATA[]]></depends_on_stock>
	<out_of_stock required="true" format="isInt"><![CDATA[]]></out_of_stock>
	<location maxSize="255" format="isString"><![CDATA[]]></location>
</stock_available>
</prestashop>
"""
