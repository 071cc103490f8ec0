-- The Magento 2.4 (Open Source) tables that docs/examples/magento2.toml reads, with the columns it
-- reads and the ones they need to be filled. The real tables have more columns, foreign keys,
-- ENGINE=InnoDB and AUTO_INCREMENT, which shopcrm does not need. The types are Magento's own
-- (note qty_ordered DECIMAL(12,4): quantities are decimals). This file runs unchanged on MariaDB,
-- MySQL and SQLite; the test suite builds a small Magento shop from it. Adobe Commerce (the
-- paid edition) keys catalogue values by row_id instead of entity_id: change the joins to match.

-- The EAV dictionary: which attribute id holds a product's or a category's name, price, status.
CREATE TABLE eav_entity_type (
  entity_type_id SMALLINT UNSIGNED NOT NULL PRIMARY KEY,
  entity_type_code VARCHAR(50) NOT NULL
);

CREATE TABLE eav_attribute (
  attribute_id SMALLINT UNSIGNED NOT NULL PRIMARY KEY,
  entity_type_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  attribute_code VARCHAR(255) NOT NULL,
  backend_type VARCHAR(8) NOT NULL DEFAULT 'static',
  UNIQUE (entity_type_id, attribute_code)
);

-- The catalogue: a product row, its values per attribute and store view (store 0 = default).
CREATE TABLE catalog_product_entity (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  attribute_set_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  type_id VARCHAR(32) NOT NULL DEFAULT 'simple',
  sku VARCHAR(64) NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE catalog_product_entity_varchar (
  value_id INT NOT NULL PRIMARY KEY,
  attribute_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  store_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  entity_id INT UNSIGNED NOT NULL DEFAULT 0,
  value VARCHAR(255) NULL,
  UNIQUE (entity_id, attribute_id, store_id)
);

CREATE TABLE catalog_product_entity_decimal (
  value_id INT NOT NULL PRIMARY KEY,
  attribute_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  store_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  entity_id INT UNSIGNED NOT NULL DEFAULT 0,
  value DECIMAL(20,6) NULL,
  UNIQUE (entity_id, attribute_id, store_id)
);

CREATE TABLE catalog_product_entity_int (
  value_id INT NOT NULL PRIMARY KEY,
  attribute_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  store_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  entity_id INT UNSIGNED NOT NULL DEFAULT 0,
  value INT NULL,
  UNIQUE (entity_id, attribute_id, store_id)
);

CREATE TABLE catalog_category_entity (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  attribute_set_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  parent_id INT UNSIGNED NOT NULL DEFAULT 0,
  path VARCHAR(255) NOT NULL,
  position INT NOT NULL DEFAULT 0,
  level INT NOT NULL DEFAULT 0,
  children_count INT NOT NULL DEFAULT 0
);

CREATE TABLE catalog_category_entity_varchar (
  value_id INT NOT NULL PRIMARY KEY,
  attribute_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  store_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  entity_id INT UNSIGNED NOT NULL DEFAULT 0,
  value VARCHAR(255) NULL,
  UNIQUE (entity_id, attribute_id, store_id)
);

-- A product may be in several categories (and in the store's root category).
CREATE TABLE catalog_category_product (
  entity_id INT NOT NULL PRIMARY KEY,
  category_id INT UNSIGNED NOT NULL DEFAULT 0,
  product_id INT UNSIGNED NOT NULL DEFAULT 0,
  position INT NOT NULL DEFAULT 0,
  UNIQUE (category_id, product_id)
);
CREATE INDEX catalog_category_product_product_id ON catalog_category_product (product_id);

CREATE TABLE cataloginventory_stock_item (
  item_id INT UNSIGNED NOT NULL PRIMARY KEY,
  product_id INT UNSIGNED NOT NULL DEFAULT 0,
  stock_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  qty DECIMAL(12,4) NULL,
  is_in_stock SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  website_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  UNIQUE (product_id, stock_id)
);

-- Search-engine friendly addresses: request_path is relative to the store's base URL.
CREATE TABLE url_rewrite (
  url_rewrite_id INT UNSIGNED NOT NULL PRIMARY KEY,
  entity_type VARCHAR(32) NOT NULL,
  entity_id INT UNSIGNED NOT NULL,
  request_path VARCHAR(255) NULL,
  target_path VARCHAR(255) NULL,
  redirect_type SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  store_id SMALLINT UNSIGNED NOT NULL,
  metadata VARCHAR(255) NULL
);
CREATE INDEX url_rewrite_entity ON url_rewrite (entity_id, entity_type);

-- Customers, their default billing address, their newsletter subscription (status 1 = subscribed).
CREATE TABLE customer_entity (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  website_id SMALLINT UNSIGNED NULL,
  email VARCHAR(255) NULL,
  group_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  store_id SMALLINT UNSIGNED NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  is_active SMALLINT UNSIGNED NOT NULL DEFAULT 1,
  firstname VARCHAR(255) NULL,
  lastname VARCHAR(255) NULL,
  default_billing INT UNSIGNED NULL,
  default_shipping INT UNSIGNED NULL
);

CREATE TABLE customer_address_entity (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  parent_id INT UNSIGNED NULL,
  city VARCHAR(255) NOT NULL,
  country_id VARCHAR(255) NOT NULL,
  region VARCHAR(255) NULL,
  street TEXT NOT NULL,
  postcode VARCHAR(255) NULL
);

CREATE TABLE newsletter_subscriber (
  subscriber_id INT UNSIGNED NOT NULL PRIMARY KEY,
  store_id SMALLINT UNSIGNED NULL DEFAULT 0,
  customer_id INT UNSIGNED NOT NULL DEFAULT 0,
  subscriber_email VARCHAR(150) NULL,
  subscriber_status INT NOT NULL DEFAULT 0
);
CREATE INDEX newsletter_subscriber_customer_id ON newsletter_subscriber (customer_id);

-- Orders: state is Magento's order state (new, pending_payment, processing, complete, closed,
-- canceled, holded, payment_review); customer_id is empty for guest orders. Times are UTC.
CREATE TABLE sales_order (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  state VARCHAR(32) NULL,
  status VARCHAR(32) NULL,
  store_id SMALLINT UNSIGNED NULL,
  customer_id INT UNSIGNED NULL,
  customer_is_guest SMALLINT UNSIGNED NULL DEFAULT 0,
  base_grand_total DECIMAL(20,4) NULL,
  increment_id VARCHAR(32) NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX sales_order_customer_id ON sales_order (customer_id);

-- Order lines: a configurable product is a parent line (with the price) and a child line
-- (the simple product chosen, parent_item_id set, price 0).
CREATE TABLE sales_order_item (
  item_id INT UNSIGNED NOT NULL PRIMARY KEY,
  order_id INT UNSIGNED NOT NULL DEFAULT 0,
  parent_item_id INT UNSIGNED NULL,
  product_id INT UNSIGNED NULL,
  product_type VARCHAR(255) NULL,
  sku VARCHAR(255) NULL,
  qty_ordered DECIMAL(12,4) NULL DEFAULT 0.0000,
  base_price DECIMAL(12,4) NOT NULL DEFAULT 0.0000,
  base_price_incl_tax DECIMAL(20,4) NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX sales_order_item_order_id ON sales_order_item (order_id);

-- Carts: a quote stays is_active = 1 until it becomes an order.
CREATE TABLE quote (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  store_id SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  is_active SMALLINT UNSIGNED NULL DEFAULT 1,
  customer_id INT UNSIGNED NULL,
  customer_is_guest SMALLINT UNSIGNED NULL DEFAULT 0
);
CREATE INDEX quote_customer_id_store_id_is_active ON quote (customer_id, store_id, is_active);

CREATE TABLE quote_item (
  item_id INT UNSIGNED NOT NULL PRIMARY KEY,
  quote_id INT UNSIGNED NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  product_id INT UNSIGNED NULL,
  parent_item_id INT UNSIGNED NULL,
  qty DECIMAL(12,4) NOT NULL DEFAULT 0.0000
);
CREATE INDEX quote_item_quote_id ON quote_item (quote_id);
