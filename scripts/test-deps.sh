#!/usr/bin/env bash
# Installs and starts, on a fresh Debian machine, everything the test suite needs: PostgreSQL
# (127.0.0.1:5432 with trust auth, or a private cluster of our own), MariaDB (127.0.0.1:3306, root
# without password), Prometheus' promtool and server binary, Alertmanager's amtool, and Python's
# aiosmtpd (a real SMTP server) and icalendar in a virtual environment, and the Debian packaging
# tools (dpkg-dev, binutils, file, lintian). Only those, without recommended packages; the
# packaged Prometheus and Alertmanager servers are neither started nor enabled at boot.
# Idempotent: what is already there and running is left alone, and a system PostgreSQL's
# configuration is never edited.
#
# It writes the settings the tests read (HCC_TEST_PG_URL, HCC_TEST_PYTHON) to $HCC_TEST_ENV
# (default target/test-env.sh) for scripts/test.sh to source.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
# The package test (scripts/test-package.sh): build, strip, lint.
command -v dpkg-shlibdeps >/dev/null 2>&1 || missing+=(dpkg-dev)
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
command -v file >/dev/null 2>&1 || missing+=(file)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
# The tests start their own Prometheus on a loopback port, and of Alertmanager only amtool is
# used: neither packaged server may start. While installing, policy-rc.d (which invoke-rc.d and
# deb-systemd-invoke ask) refuses to start those two and lets every other package start as
# usual; one the machine already has is left as it is, and ours is removed on exit.
policy=/usr/sbin/policy-rc.d
block_prometheus_start() {
    [ -e "$policy" ] && return 0
    as_root tee "$policy" >/dev/null <<'POLICY'
#!/bin/sh
# Written by hcc-monitor's scripts/test-deps.sh while it installs packages; removed after.
case "$1" in prometheus|prometheus-alertmanager) exit 101 ;; esac
exit 0
POLICY
    as_root chmod 755 "$policy"
    trap 'as_root rm -f "$policy"' EXIT
}

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    if [[ " ${missing[*]} " == *" prometheus"* ]]; then
        block_prometheus_start
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # Not started, and not enabled at boot either (the packages enable their unit).
    if command -v systemctl >/dev/null 2>&1; then
        for unit in prometheus prometheus-alertmanager; do
            if [[ " ${missing[*]} " == *" $unit "* ]]; then
                as_root systemctl disable --now "$unit" >/dev/null 2>&1 || true
            fi
        done
    fi
fi

env_file="${HCC_TEST_ENV:-target/test-env.sh}"
mkdir -p "$(dirname "$env_file")"
: >"$env_file"

# aiosmtpd (a real SMTP server) and icalendar (an independent reader of the calendar export) in
# a virtual environment of our own, never pip as root into the system Python.
venv="${HCC_TEST_VENV:-$HOME/.cache/hcc-monitor/test-venv}"
if ! "$venv/bin/python" -c 'import aiosmtpd, icalendar' 2>/dev/null; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet aiosmtpd icalendar
fi
echo "export HCC_TEST_PYTHON='$venv/bin/python'" >>"$env_file"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.2; done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# PostgreSQL: the system server on 127.0.0.1:5432 if it trusts us; otherwise a private cluster of
# our own on another port, so a system server's pg_hba.conf is never rewritten.
pg_usable() { psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1; }
pg_url="${HCC_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432}"
if ! pg_usable "$pg_url" && ! port_open 5432 && compgen -G "/etc/postgresql/*/main" >/dev/null; then
    # A stopped system cluster is started as it is configured, nothing edited.
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 50); do pg_usable "$pg_url" && break; sleep 0.2; done
fi
if ! pg_usable "$pg_url"; then
    private_port=55432
    pg_url="postgres://postgres@127.0.0.1:$private_port"
    if ! pg_usable "$pg_url"; then
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        data="${HCC_TEST_PGDATA:-/var/tmp/hcc-monitor-test-pg}"
        owner=postgres
        id -u "$owner" >/dev/null 2>&1 || owner=$(id -un)
        run_pg() { if [ "$(id -un)" = "$owner" ]; then "$@"; else as_root runuser -u "$owner" -- "$@"; fi; }
        if [ ! -f "$data/PG_VERSION" ]; then
            as_root mkdir -p "$data"
            as_root chown "$owner" "$data"
            run_pg "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
        fi
        run_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
            -o "-p $private_port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
        wait_port "$private_port"
    fi
    echo "using a private PostgreSQL cluster on 127.0.0.1:$private_port"
fi
echo "export HCC_TEST_PG_URL='$pg_url'" >>"$env_file"

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

echo "test dependencies ready: PostgreSQL $pg_url, MariaDB :3306, promtool, aiosmtpd ($venv)"
