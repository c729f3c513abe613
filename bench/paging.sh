#!/usr/bin/env bash
# The big first poll (issue 18 item 4): the first poll of a 1,000,000-row MariaDB source through
# the default 54 s statement timeout, read in keyset pages (page_rows). Reports whether it
# completed, its wall time and its peak RSS (/usr/bin/time -v), then a second poll.
# Not part of the test command. Usage: bash bench/paging.sh   (ROWS=1000000 PAGE_ROWS=10000)
#        UNPAGED=1 bash bench/paging.sh   also polls with the whole result in one page, as before.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
PAGE_ROWS=${PAGE_ROWS:-10000}
MY=${HCC_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
SRC=hcc_bench_paging

cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/hcc-monitor
work=$(mktemp -d)
cleanup() {
    rm -rf "$work"
    mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $SRC" 2>/dev/null || true
}
trap cleanup EXIT

mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $SRC; CREATE DATABASE $SRC CHARACTER SET utf8mb4"
t=$(date +%s.%N)
"$BIN" demo --rows "$ROWS" --into "$MY/$SRC" >/dev/null
echo "generated $ROWS dossiers in $(echo "$(date +%s.%N) - $t" | bc -l | xargs printf '%.1f') s" >&2

query=$(sed -n '/^pub const SOURCE_QUERY/,/";$/p' src/demo/db.rs | sed '1s/.*= "//; $s/";$//')
status_map=$(awk '/^\[source.status_map\]/ && !done {on = 1} on && /^$/ {on = 0; done = 1} on' src/demo/demo.toml)
config() { # name page_rows
    cat > "$work/$1.toml" <<TOML
[store]
url = "sqlite://$work/$1.db"
[[source]]
name = "bench"
url = "$MY/$SRC"
timeout_secs = 60
statement_timeout_secs = 54
page_rows = $2
query = """
$query
"""
$status_map
TOML
    echo "$work/$1.toml"
}

poll() { # label config
    local rc=0
    /usr/bin/time -v -o "$work/time" "$BIN" poll-once --config "$2" >"$work/out" 2>&1 || rc=$?
    local wall rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
    local stored
    stored=$(sqlite3 "${2%.toml}.db" "SELECT count(*) FROM dossiers" 2>/dev/null || echo 0)
    local watermark
    watermark=$(sqlite3 "${2%.toml}.db" "SELECT value FROM watermarks WHERE source = 'bench'" 2>/dev/null || true)
    printf '| %s | %s | %s | %s MiB | %s | %s |\n' "$1" "$([ $rc = 0 ] && echo completed || echo "failed ($rc)")" \
        "$wall" "$((rss / 1024))" "$stored" "${watermark:--}"
    [ $rc = 0 ] || tail -3 "$work/out" >&2
}

printf '\n| poll (%s rows, statement timeout 54 s) | outcome | wall | peak RSS | rows stored | watermark |\n| --- | --- | --- | --- | --- | --- |\n' "$ROWS"
paged=$(config paged "$PAGE_ROWS")
poll "first poll, page_rows = $PAGE_ROWS" "$paged"
poll "second poll, page_rows = $PAGE_ROWS" "$paged"
if [ "${UNPAGED:-0}" = 1 ]; then
    poll "first poll, one page of $ROWS rows" "$(config unpaged "$ROWS")"
fi
