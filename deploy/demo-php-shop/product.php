<?php
// A product page. A real shop knows the customer from its login session; this demo takes
// ?customer=ID instead, so that a test can browse as a given customer. This page is where
// a shop includes shopcrm's view beacon (docs/DEPLOY.md, "The view beacon").
declare(strict_types=1);
require __DIR__ . '/lib.php';

$productId = filter_input(INPUT_GET, 'id', FILTER_VALIDATE_INT, ['options' => ['min_range' => 1]]);
$customerId = filter_input(INPUT_GET, 'customer', FILTER_VALIDATE_INT, ['options' => ['min_range' => 1]]) ?: null;
if (!$productId) {
    shop_fail(404, 'No such product.');
}
$rows = shop_rows(
    'SELECT p.product_id, p.name, p.price, p.stock, c.name AS category, b.name AS brand
       FROM products p
       JOIN categories c ON c.category_id = p.category_id
       LEFT JOIN brands b ON b.brand_id = p.brand_id
      WHERE p.product_id = ? AND p.active = 1', 'i', [$productId]);
if (!$rows) {
    shop_fail(404, 'No such product.');
}
$product = $rows[0];

shop_header($product['name']);
echo '<article class="product" data-product-id="', (int)$product['product_id'], '">', "\n",
    '<h1>', h($product['name']), "</h1>\n",
    '<p class="price">', h(money($product['price'])), "</p>\n",
    '<p>Category: ', h($product['category']), ' · Brand: ', h($product['brand'] ?? '-'),
    ' · In stock: ', (int)$product['stock'], "</p>\n",
    "</article>\n";
if ($customerId !== null) {
    echo '<p class="customer">Signed in as customer #', $customerId, "</p>\n";
    // shopcrm's view beacon (deploy/php/shopcrm_beacon.php, copied next to this page and
    // configured in shopcrm_beacon_config.php): a signed 1x1 image that records this view.
    if (is_file(__DIR__ . '/shopcrm_beacon.php')) {
        require_once __DIR__ . '/shopcrm_beacon.php';
        echo shopcrm_beacon_tag($customerId, $productId), "\n";
    }
}
shop_footer();
