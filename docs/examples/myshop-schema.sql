-- "Kleinladen": a hand-written PHP shop whose tables and columns all have names of their own.
-- docs/MAPPING.md maps it to shopcrm with docs/examples/myshop.toml. The tables carry the
-- prefix kl_ ({prefix} below); MariaDB/MySQL syntax.
CREATE TABLE `{prefix}kunden` (
  `kd_nr` INT NOT NULL PRIMARY KEY,
  `mail` VARCHAR(190) NULL,
  `vorname` VARCHAR(64) NOT NULL,
  `nachname` VARCHAR(64) NOT NULL,
  `angelegt` DATETIME NOT NULL,
  `ort` VARCHAR(64) NULL,
  `bundesland` VARCHAR(64) NULL,
  `land` CHAR(2) NULL,
  `werbequelle` VARCHAR(32) NULL,
  `newsletter_ok` TINYINT NOT NULL DEFAULT 0,
  `gesperrt` TINYINT NOT NULL DEFAULT 0
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}warengruppen` (
  `wg_nr` INT NOT NULL PRIMARY KEY,
  `bezeichnung` VARCHAR(128) NOT NULL,
  `ober_wg` INT NULL
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}hersteller` (
  `hst_nr` INT NOT NULL PRIMARY KEY,
  `firma` VARCHAR(128) NOT NULL
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}artikel` (
  `art_nr` INT NOT NULL PRIMARY KEY,
  `titel` VARCHAR(255) NOT NULL,
  `vk_preis` DECIMAL(10,2) NOT NULL,
  `wg_nr` INT NOT NULL,
  `hst_nr` INT NULL,
  `im_sortiment` TINYINT NOT NULL DEFAULT 1,
  `bestand` INT NOT NULL DEFAULT 0
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}besuche` (
  `besuch_nr` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `kd_nr` INT NULL,
  `art_nr` INT NOT NULL,
  `zeitpunkt` DATETIME NOT NULL,
  KEY `kunde_artikel` (`kd_nr`, `art_nr`, `zeitpunkt`)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}warenkorb` (
  `wk_nr` INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `kd_nr` INT NOT NULL,
  `art_nr` INT NOT NULL,
  `menge` INT NOT NULL DEFAULT 1,
  `eingelegt` DATETIME NOT NULL
) DEFAULT CHARSET=utf8mb4;

-- Orders keep no total: it is the sum of their positions. Whether a status is a sale is
-- recorded in a table of its own.
CREATE TABLE `{prefix}bestellstatus` (
  `code` VARCHAR(16) NOT NULL PRIMARY KEY,
  `ist_umsatz` TINYINT NOT NULL
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}bestellungen` (
  `best_nr` INT NOT NULL PRIMARY KEY,
  `kd_nr` INT NOT NULL,
  `bestellt_am` DATETIME NOT NULL,
  `status_code` VARCHAR(16) NOT NULL,
  KEY `kunde` (`kd_nr`, `bestellt_am`)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}positionen` (
  `pos_nr` INT NOT NULL PRIMARY KEY,
  `best_nr` INT NOT NULL,
  `art_nr` INT NOT NULL,
  `anzahl` INT NOT NULL,
  `einzelpreis` DECIMAL(10,2) NOT NULL,
  KEY `bestellung` (`best_nr`, `art_nr`)
) DEFAULT CHARSET=utf8mb4
