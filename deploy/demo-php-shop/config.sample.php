<?php
// Connection settings of the demo shop. Copy to config.php and fill in.
// A read-only (SELECT) MySQL/MariaDB user is enough: the demo shop only shows data.
return [
    'host' => '127.0.0.1',   // 'localhost' means the local socket (see 'socket')
    'port' => 3306,
    'socket' => null,        // e.g. '/run/mysqld/mysqld.sock' with host 'localhost'
    'user' => 'shop_reader',
    'password' => 'change-me',
    'database' => 'shop',
    'shop_name' => 'Demo Shop',
];
