#!/usr/bin/env bash
# Install the system packages the test suite talks to, when they are missing.
# Debian/Ubuntu only (apt-get); needs root or sudo. Anything already installed is left alone.
# Usage: scripts/setup-system.sh [--check]   (--check only reports what is missing)
set -euo pipefail

# command-to-check  debian-package(s)
REQUIREMENTS=(
  "/usr/sbin/mariadbd mariadb-server"
  # shop mapping / view beacon: the tests run the PHP beacon snippet with the real php
  "php php-cli"
)

missing=()
for entry in "${REQUIREMENTS[@]}"; do
  probe=${entry%% *}
  packages=${entry#* }
  if [[ $probe == /* ]]; then [[ -e $probe ]] && continue; else command -v "$probe" >/dev/null 2>&1 && continue; fi
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
