<?php
// Front page: the categories and the newest active products, read from the shop's tables.
declare(strict_types=1);
require __DIR__ . '/lib.php';

$categories = shop_rows(
    'SELECT c.category_id, c.name, COUNT(p.product_id) AS products
       FROM categories c LEFT JOIN products p ON p.category_id = c.category_id AND p.active = 1
      GROUP BY c.category_id, c.name ORDER BY c.name');
$products = shop_rows(
    'SELECT p.product_id, p.name, p.price, b.name AS brand
       FROM products p LEFT JOIN brands b ON b.brand_id = p.brand_id
      WHERE p.active = 1 ORDER BY p.product_id LIMIT ?', 'i', [50]);

shop_header('Welcome');
echo "<h1>Welcome</h1>\n<h2>Categories</h2>\n<ul class=\"categories\">\n";
foreach ($categories as $c) {
    echo '<li>', h($c['name']), ' (', (int)$c['products'], ")</li>\n";
}
echo "</ul>\n<h2>Products</h2>\n<ul class=\"products\">\n";
foreach ($products as $p) {
    echo '<li><a href="product.php?id=', (int)$p['product_id'], '">', h($p['name']), '</a> ',
        h($p['brand'] ?? ''), ' ', h(money($p['price'])), "</li>\n";
}
echo "</ul>\n";
shop_footer();
