<?php
// The demo shop's shared code: a database connection and the page frame.
// A stand-in for a hand-written PHP/MySQL shop in shopcrm's generic schema (the tables
// `flask shopcrm demo-shop` writes); shopcrm runs next to it at /crm.
declare(strict_types=1);

function shop_config(): array
{
    static $config = null;
    if ($config === null) {
        $path = __DIR__ . '/config.php';
        if (!is_file($path)) {
            shop_fail(500, 'The shop is not configured yet: copy config.sample.php to config.php.');
        }
        $config = require $path;
    }
    return $config;
}

function shop_db(): mysqli
{
    static $db = null;
    if ($db === null) {
        $c = shop_config();
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        try {
            $db = new mysqli($c['host'], $c['user'], $c['password'], $c['database'], (int)$c['port'], $c['socket'] ?? null);
            $db->set_charset('utf8mb4');
        } catch (mysqli_sql_exception $e) {
            error_log('demo shop: cannot connect to the database: ' . $e->getMessage());
            shop_fail(503, 'The shop database is not reachable right now.');
        }
    }
    return $db;
}

/** All rows of a prepared SELECT, as associative arrays. */
function shop_rows(string $sql, string $types = '', array $params = []): array
{
    $stmt = shop_db()->prepare($sql);
    if ($types !== '') {
        $stmt->bind_param($types, ...$params);
    }
    $stmt->execute();
    return $stmt->get_result()->fetch_all(MYSQLI_ASSOC);
}

function h($value): string
{
    return htmlspecialchars((string)$value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function money($value): string
{
    return number_format((float)$value, 2, '.', ',') . ' €';
}

function shop_header(string $title): void
{
    $shop = shop_config()['shop_name'] ?? 'Demo Shop';
    header('Content-Type: text/html; charset=utf-8');
    echo "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>", h($title), ' · ', h($shop),
        "</title></head>\n<body>\n<header><a href=\"/\">", h($shop), "</a></header>\n<main>\n";
}

function shop_footer(): void
{
    echo "</main>\n<footer>Served by PHP ", h(PHP_VERSION), ' (', h(PHP_SAPI), ")</footer>\n</body>\n</html>\n";
}

function shop_fail(int $status, string $message): void
{
    http_response_code($status);
    header('Content-Type: text/plain; charset=utf-8');
    echo $message, "\n";
    exit;
}
