#!/usr/bin/env bash
# Make sure the local MariaDB server answers; start it if it is installed but stopped.
# Works without systemd (containers, CI). Exits non-zero only if it is installed and will not start.
set -euo pipefail

answers() { mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1 || mysql -uroot -e 'SELECT 1' >/dev/null 2>&1; }

if answers; then echo "MariaDB: running"; exit 0; fi
if [[ ! -x /usr/sbin/mariadbd ]]; then echo "MariaDB: not installed (run scripts/setup-system.sh)"; exit 0; fi
if [[ $(id -u) -ne 0 ]]; then echo "MariaDB: stopped, and starting it needs root" >&2; exit 0; fi

install -d -o mysql -g mysql /run/mysqld
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
for _ in $(seq 1 100); do
  if answers; then echo "MariaDB: started"; exit 0; fi
  sleep 0.2
done
echo "MariaDB: installed but did not start within 20 s; see /var/log/mysql/ or journal" >&2
exit 1
