#!/usr/bin/env bash
# Installs and starts, on a fresh Debian machine, everything the test suite needs: PostgreSQL
# (127.0.0.1:5432, trust auth), MariaDB (127.0.0.1:3306, root without password), Prometheus'
# promtool and server, and Python's aiosmtpd (a real SMTP server). Idempotent: what is already
# there and running is left alone.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    python3 -m pip install --quiet aiosmtpd
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.2; done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# PostgreSQL: started, listening on loopback, trusting local connections (test machines only).
if ! port_open 5432; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_port 5432
fi

# MariaDB: started, root reachable over TCP without a password (test machines only).
if ! port_open 3306; then
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    wait_port 3306
fi
if ! mariadb -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1; then
    as_root mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
fi

echo "test dependencies ready: PostgreSQL :5432, MariaDB :3306, promtool, aiosmtpd"
