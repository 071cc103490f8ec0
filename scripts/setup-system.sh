#!/usr/bin/env bash
# Install the system packages the test suite talks to, when they are missing.
# Debian/Ubuntu only (apt-get); needs root or sudo. Anything already installed is left alone.
# Usage: scripts/setup-system.sh [--check]   (--check only reports what is missing)
set -euo pipefail

# command-or-path-to-check  debian-package(s)   (a path may be a glob)
REQUIREMENTS=(
  "/usr/sbin/mariadbd mariadb-server"
  # admin panel browser test (tests/admin/test_browser.py): Debian's Chromium driven by Playwright
  "chromium chromium"
  # deployment test (tests/deploy/test_apache.py): Apache + mod_wsgi + mod_php + mysqli, a venv
  # from Debian's python3 (the Python mod_wsgi is built for), logrotate for the shipped rules
  "/usr/sbin/apache2 apache2"
  "/usr/lib/apache2/modules/mod_wsgi.so libapache2-mod-wsgi-py3"
  "/usr/lib/apache2/modules/libphp*.so libapache2-mod-php"
  "/usr/lib/php/*/mysqli.so php-mysql"
  "/usr/lib/python3*/ensurepip/__init__.py python3-venv"
  "/usr/sbin/logrotate logrotate"
  # shop mapping / view beacon: the tests run the PHP beacon snippet with the real php
  "php php-cli"
  # real-shop test (tests/realshop/): OpenCart's installer refuses to run without gd, curl, zip,
  # mbstring; its pages need xml
  "/usr/lib/php/*/gd.so php-gd"
  "/usr/lib/php/*/curl.so php-curl"
  "/usr/lib/php/*/zip.so php-zip"
  "/usr/lib/php/*/mbstring.so php-mbstring"
  "/usr/lib/php/*/dom.so php-xml"
)

missing=()
for entry in "${REQUIREMENTS[@]}"; do
  probe=${entry%% *}
  packages=${entry#* }
  if [[ $probe == /* ]]; then compgen -G "$probe" >/dev/null && continue; else command -v "$probe" >/dev/null 2>&1 && continue; fi
  missing+=($packages)
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages missing: ${missing[*]}"
[[ ${1:-} == --check ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "no apt-get here: install ${missing[*]} with your system's package manager" >&2
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "not root and no password-less sudo: install ${missing[*]} yourself (tests needing them will be skipped)" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
