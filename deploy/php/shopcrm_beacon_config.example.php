<?php
// Copy this file to shopcrm_beacon_config.php (next to shopcrm_beacon.php) and fill in both values.
// The secret must be exactly SHOPCRM_BEACON_SECRET of shopcrm's settings; keep the file out of the web root
// or make sure PHP runs it (never serve it as text).
define('SHOPCRM_BEACON_SECRET', 'paste-the-secret-from-shopcrm-here');
// Where shopcrm answers: the shop's own address followed by /crm/beacon.
define('SHOPCRM_BEACON_URL', 'https://shop.example.com/crm/beacon');
