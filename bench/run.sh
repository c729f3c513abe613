#!/usr/bin/env bash
# The scale benchmark (issue 7), in one run on this machine's PostgreSQL and MariaDB:
#   1. initial full sync source -> store (SQLite store, PostgreSQL store) beside its limits:
#      reading the same query with psql \copy, and the store's own bulk load of the same rows;
#   2. an incremental poll after 1 % of the rows changed, and its cost on the source;
#   3. database time per hour at steady state, hcc-monitor against aggregate SQL every 15 s
#      (what an SQL exporter such as Debian's prometheus-sql-exporter runs);
#   4. the evaluation cycle and /metrics render (cargo bench --bench evaluation);
#   5. escalation planning and rendering for 10,000 due dossiers across 50 recipients, and
#      mailer throughput to a local SMTP server (cargo bench --bench escalation).
# Usage: bash bench/run.sh            (PG_ROWS=1000000 MARIA_ROWS=100000 by default)
#        PG_ROWS=50000 MARIA_ROWS=10000 bash bench/run.sh   (a quick run)
# Results: a Markdown table on stdout; see docs/performance.md for a recorded run.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ROWS=${PG_ROWS:-1000000}
MARIA_ROWS=${MARIA_ROWS:-100000}
PG=${HCC_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
MY=${HCC_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
SRC=hcc_bench_src
STORE=hcc_bench_store

bash scripts/test-deps.sh >/dev/null
for tool in bc sqlite3; do
    command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
done
cargo build --release --quiet
BIN=$PWD/target/release/hcc-monitor
work=$(mktemp -d)

psql_q() { psql -X -q -t -A "$PG/$1" -c "$2"; }
now_s() { date +%s.%N; }
since() { echo "$(now_s) - $1" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

cleanup() {
    rm -rf "$work"
    psql -X -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)" 2>/dev/null || true
    psql -X -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $STORE WITH (FORCE)" 2>/dev/null || true
    mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $SRC" 2>/dev/null || true
}
trap cleanup EXIT

echo "preparing: $PG_ROWS dossiers in PostgreSQL, $MARIA_ROWS in MariaDB" >&2
for db in $SRC $STORE; do
    psql_q postgres "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    psql_q postgres "CREATE DATABASE $db"
done
mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $SRC; CREATE DATABASE $SRC CHARACTER SET utf8mb4"
t=$(now_s); "$BIN" demo --rows "$PG_ROWS" --into "$PG/$SRC" >/dev/null; gen_pg=$(since "$t")
t=$(now_s); "$BIN" demo --rows "$MARIA_ROWS" --into "$MY/$SRC" >/dev/null; gen_my=$(since "$t")
psql_q $SRC "VACUUM ANALYZE ho_so"

query=$(sed -n '/^pub const SOURCE_QUERY/,/";$/p' src/demo/db.rs | sed '1s/.*= "//; $s/";$//')
# The demo source's status map: its first [source.status_map] table, up to the blank line.
status_map=$(awk '/^\[source.status_map\]/ && !done {on = 1} on && /^$/ {on = 0; done = 1} on' src/demo/demo.toml)

config() { # name store_url source_url
    cat > "$work/$1.toml" <<TOML
[store]
url = "$2"
[[source]]
name = "bench"
url = "$3"
timeout_secs = 600
statement_timeout_secs = 590
query = """
$query
"""
$status_map
TOML
    echo "$work/$1.toml"
}
cfg_sqlite=$(config sqlite "sqlite://$work/store.db" "$PG/$SRC")
cfg_pg=$(config pg "$PG/$STORE" "$PG/$SRC")
cfg_my=$(config my "sqlite://$work/store-my.db" "$MY/$SRC")

poll() { # config -> "wall_s rss_mib"
    /usr/bin/time -f "%e %M" -o "$work/time" "$BIN" poll-once --config "$1" >"$work/poll.out"
    read -r wall rss_kib <"$work/time"
    echo "$wall $(echo "$rss_kib / 1024" | bc)"
}

echo "1. initial full sync" >&2
read -r sync_sqlite rss_sqlite < <(poll "$cfg_sqlite")
read -r sync_pg rss_pg < <(poll "$cfg_pg")
read -r sync_my rss_my < <(poll "$cfg_my")

# Read limit: the same query, every row, straight to /dev/null.
full_query=${query//:watermark/\'1970-01-01\'}
t=$(now_s); psql -X -q "$PG/$SRC" -c "\\copy ($full_query) TO '/dev/null'"; read_limit=$(since "$t")
# Write limits: the store's own bulk load of the rows it now holds.
sqlite3 "$work/store.db" -csv "SELECT * FROM dossiers" >"$work/dossiers.csv"
# The same table with the same indexes (not the triggers, which only act on updates).
sqlite3 "$work/store.db" "SELECT sql || ';' FROM sqlite_master WHERE tbl_name = 'dossiers'
    AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC" >"$work/schema.sql"
sqlite3 "$work/bulk.db" <"$work/schema.sql"
t=$(now_s); sqlite3 "$work/bulk.db" ".import --csv $work/dossiers.csv dossiers"; write_sqlite=$(since "$t")
psql_q $STORE "CREATE TABLE bulk (LIKE dossiers INCLUDING ALL)"
psql -X -q "$PG/$STORE" -c "\\copy dossiers TO '$work/pg.csv' CSV"
t=$(now_s); psql -X -q "$PG/$STORE" -c "\\copy bulk FROM '$work/pg.csv' CSV"; write_pg=$(since "$t")

echo "2. incremental poll after 1 % changed" >&2
psql_q $SRC "UPDATE ho_so SET ngay_cap_nhat = LOCALTIMESTAMP(0) + interval '1 minute',
    trang_thai = CASE trang_thai WHEN 'DANG_XU_LY' THEN 'CO_KET_QUA' ELSE trang_thai END
    WHERE abs(hashtext(ma_ho_so)) % 100 = 0" >/dev/null
changed=$(psql_q $SRC "SELECT count(*) FROM ho_so WHERE ngay_cap_nhat > LOCALTIMESTAMP(0)")
read -r incr_wall _ < <(poll "$cfg_sqlite")
incr_poll=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$work/poll.out")
wm=$(psql_q $SRC "SELECT to_char(LOCALTIMESTAMP(0) - interval '1 minute', 'YYYY-MM-DD HH24:MI:SS')")
explain() { psql_q $SRC "EXPLAIN (ANALYZE, FORMAT JSON) $1" | python3 -c 'import json,sys; p=json.load(sys.stdin)[0]; print(p["Execution Time"], p["Plan"].get("Actual Rows", 0))'; }
read -r incr_exec incr_rows < <(explain "${query//:watermark/\'$wm\'}")

echo "3. source load per hour at steady state" >&2
# hcc-monitor: one incremental poll a minute reading the last minute's changes (a centre of
# 20,000 dossiers a month changes about 2 dossiers a minute), plus the nightly resync.
steady_wm=$(psql_q $SRC "SELECT to_char(LOCALTIMESTAMP(0), 'YYYY-MM-DD HH24:MI:SS')")
read -r steady_exec _ < <(explain "${query//:watermark/\'$steady_wm\'}")
read -r resync_exec _ < <(explain "$full_query")
hcc_hour=$(echo "60 * $steady_exec + $resync_exec / 24" | bc -l)
# The peer approach: the dashboard's figures recomputed by aggregate SQL on every 15 s scrape.
open="'DA_TIEP_NHAN','DANG_XU_LY','YEU_CAU_BO_SUNG','CHO_THANH_TOAN','DUNG_XU_LY'"
peer=0
for q in \
    "SELECT ma_don_vi, trang_thai, count(*) FROM ho_so GROUP BY 1, 2" \
    "SELECT ma_don_vi, count(*) FROM ho_so WHERE trang_thai IN ($open) AND ngay_hen_tra < LOCALTIMESTAMP GROUP BY 1" \
    "SELECT ma_don_vi, count(*) FROM ho_so WHERE trang_thai IN ($open) AND ngay_hen_tra < LOCALTIMESTAMP + interval '1 day' GROUP BY 1" \
    "SELECT ma_don_vi, count(*) FILTER (WHERE ngay_co_ket_qua <= ngay_hen_tra), count(*) FROM ho_so WHERE ngay_co_ket_qua >= date_trunc('day', LOCALTIMESTAMP) GROUP BY 1" \
    "SELECT ma_don_vi, count(*) FILTER (WHERE ngay_co_ket_qua <= ngay_hen_tra), count(*) FROM ho_so WHERE ngay_co_ket_qua >= date_trunc('month', LOCALTIMESTAMP) GROUP BY 1" \
    "SELECT ma_don_vi, count(*) FILTER (WHERE ngay_co_ket_qua <= ngay_hen_tra), count(*) FROM ho_so WHERE ngay_co_ket_qua >= date_trunc('year', LOCALTIMESTAMP) GROUP BY 1" \
    "SELECT ma_don_vi, kenh_nop, count(*) FROM ho_so WHERE ngay_tiep_nhan >= date_trunc('month', LOCALTIMESTAMP) GROUP BY 1, 2"; do
    read -r ms _ < <(explain "$q")
    peer=$(echo "$peer + $ms" | bc -l)
done
peer_hour=$(echo "240 * $peer" | bc -l)

echo "4. evaluation cycle" >&2
eval_out=$(HCC_BENCH_ROWS=$PG_ROWS cargo bench --quiet --bench evaluation 2>/dev/null | grep '^|' | tail -n +3)
echo "5. escalation planning and sending" >&2
escalation_out=$(cargo bench --quiet --bench escalation 2>/dev/null | grep '^|' | tail -n +3)

printf '\n| measure | hcc-monitor | limit or peer | ratio | target |\n| --- | --- | --- | --- | --- |\n'
printf '| generate %s dossiers into PostgreSQL / %s into MariaDB | %.1f s / %.1f s | - | - | - |\n' "$PG_ROWS" "$MARIA_ROWS" "$gen_pg" "$gen_my"
limit_sqlite=$(echo "$read_limit + $write_sqlite" | bc -l)
limit_pg=$(echo "$read_limit + $write_pg" | bc -l)
printf '| initial sync, SQLite store: wall (rows/s) | %.1f s (%.0f/s) | read %.1f s + bulk load %.1f s | %.2fx | ≤ 2x |\n' "$sync_sqlite" "$(echo "$PG_ROWS / $sync_sqlite" | bc -l)" "$read_limit" "$write_sqlite" "$(ratio "$sync_sqlite" "$limit_sqlite")"
printf '| initial sync, PostgreSQL store: wall (rows/s) | %.1f s (%.0f/s) | read %.1f s + bulk load %.1f s | %.2fx | ≤ 2x |\n' "$sync_pg" "$(echo "$PG_ROWS / $sync_pg" | bc -l)" "$read_limit" "$write_pg" "$(ratio "$sync_pg" "$limit_pg")"
printf '| initial sync from MariaDB (%s rows), SQLite store | %.1f s | - | - | - |\n' "$MARIA_ROWS" "$sync_my"
printf '| peak RSS during the sync (SQLite / PostgreSQL / MariaDB) | %s / %s / %s MiB | - | - | ≤ 300 MiB |\n' "$rss_sqlite" "$rss_pg" "$rss_my"
printf '| incremental poll, %s rows changed (1 %%) | %.0f ms (process %.2f s) | - | - | ≤ 200 ms |\n' "$changed" "$(echo "$incr_poll * 1000" | bc -l)" "$incr_wall"
printf '| source cost of that poll (EXPLAIN ANALYZE) | %.1f ms, %s rows | - | - | - |\n' "$incr_exec" "$incr_rows"
printf '| source database time per hour, steady state | %.0f ms | %.0f ms (7 aggregates every 15 s) | %.0fx less | ≥ 50x less |\n' "$hcc_hour" "$peer_hour" "$(ratio "$peer_hour" "$hcc_hour")"
echo "$eval_out"
echo "$escalation_out"

