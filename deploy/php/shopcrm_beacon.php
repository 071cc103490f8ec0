<?php
/**
 * shopcrm view beacon: tells shopcrm which product a logged-in customer looked at.
 *
 * Include this file on the shop's product page and print the tag where the page body ends:
 *
 *     require_once '/path/to/shopcrm_beacon.php';
 *     echo shopcrm_beacon_tag($customerId, $productId);
 *
 * The tag is a hidden 1x1 image whose address carries the customer id, the product id, the
 * time and a random nonce, signed with HMAC-SHA256 and the secret shared with shopcrm
 * (SHOPCRM_BEACON_SECRET). shopcrm checks the signature and the time, refuses replays, and
 * stores the view in its own crm_view table. Guests (customer id 0 or empty) get no tag.
 *
 * Configuration: define SHOPCRM_BEACON_SECRET and SHOPCRM_BEACON_URL before including this
 * file, or copy shopcrm_beacon_config.example.php to shopcrm_beacon_config.php next to it
 * and fill in both values. Without a usable configuration the functions return '' and the
 * shop page is unaffected.
 */

if (!defined('SHOPCRM_BEACON_SECRET') && is_file(__DIR__ . '/shopcrm_beacon_config.php')) {
    require_once __DIR__ . '/shopcrm_beacon_config.php';
}

/** A positive whole number as a decimal string, or '' (guests, junk). */
function shopcrm_beacon_id($value)
{
    if (is_int($value)) {
        return $value > 0 ? (string) $value : '';
    }
    $text = trim((string) $value);
    return preg_match('/^[1-9][0-9]{0,17}$/', $text) ? $text : '';
}

/** The signed beacon address, or '' when there is nothing to report. */
function shopcrm_beacon_url($customerId, $productId, $time = null, $nonce = null)
{
    if (!defined('SHOPCRM_BEACON_SECRET') || !defined('SHOPCRM_BEACON_URL')) {
        return '';
    }
    $secret = (string) SHOPCRM_BEACON_SECRET;
    if (strlen($secret) < 16 || $secret === 'paste-the-secret-from-shopcrm-here') {
        return '';
    }
    $c = shopcrm_beacon_id($customerId);
    $p = shopcrm_beacon_id($productId);
    if ($c === '' || $p === '') {
        return '';
    }
    $t = (string) ($time === null ? time() : (int) $time);
    try {
        $n = $nonce === null ? bin2hex(random_bytes(16)) : (string) $nonce;
    } catch (Exception $e) {  // no randomness available: report nothing rather than break the page
        return '';
    }
    $s = hash_hmac('sha256', $c . '.' . $p . '.' . $t . '.' . $n, $secret);
    $base = (string) SHOPCRM_BEACON_URL;
    $query = http_build_query(array('c' => $c, 'p' => $p, 't' => $t, 'n' => $n, 's' => $s), '', '&');
    return $base . (strpos($base, '?') === false ? '?' : '&') . $query;
}

/** The hidden image tag for the product page (HTML-escaped), or ''. */
function shopcrm_beacon_tag($customerId, $productId)
{
    $url = shopcrm_beacon_url($customerId, $productId);
    if ($url === '') {
        return '';
    }
    return '<img src="' . htmlspecialchars($url, ENT_QUOTES, 'UTF-8') . '" width="1" height="1" alt=""'
        . ' hidden referrerpolicy="no-referrer">';
}
