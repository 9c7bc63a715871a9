# The PostgreSQL part of scripts/container-test.sh (sourced by it, not run
# alone): runs deploy/compose.postgres.yaml (postgres, redis, two replicas of
# each service, the Huiche loader through the a-replicas) with
# podman-compose and checks from the host that both replicas of each
# service serve the same data: the same village through either registry
# replica, the same summaries and the demo's leaderboard, line for line,
# through either lane; that one scoring replica follows the feeds and the
# other takes over when it stops, serving the same board. Then `down -v`.

# (pg_compose, teardown_postgres and PG_PROJECT are the main script's, for
# its clean-up.)

step "postgres: the database password (a secret file for postgres, a 0600 pgpass for the services)"
# As deploy/compose.postgres.yaml's header says; the owners are the
# containers' users (10002 postgres, 10001 the services), this run being
# root with rootful podman.
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/db-password"
printf '*:*:*:fivestar:%s\n' "$(cat "$WORK/db-password")" >"$WORK/pgpass"
chmod 0600 "$WORK/db-password" "$WORK/pgpass"
chown 10002:10002 "$WORK/db-password"
chown 10001:10001 "$WORK/pgpass"
echo "db-password and pgpass in $WORK"

step "postgres: podman-compose -p $PG_PROJECT -f deploy/compose.postgres.yaml up -d"
export FIVESTAR_SECRETS_DIR="$WORK"
export FIVESTAR_PROJECTS_REGISTRY_TOKEN="$PROJECTS_TOKEN"
export FIVESTAR_SCORING_PEER_TOKEN="$SCORING_TOKEN"
export FIVESTAR_LOADER_TOKEN="$ADMIN_TOKEN"
pg_ports=()
while [[ ${#pg_ports[@]} -lt 12 ]]; do
  port="$(free_port)"
  [[ " ${pg_ports[*]} " == *" $port "* ]] || pg_ports+=("$port")
done
i=0
for replica in REGISTRY_A PROJECTS_A SCORING_A REGISTRY_B PROJECTS_B SCORING_B; do
  export "FIVESTAR_${replica}_PORT=${pg_ports[$i]}"
  export "FIVESTAR_${replica}_METRICS_PORT=${pg_ports[$((i + 6))]}"
  i=$((i + 1))
done
REGISTRY_A="127.0.0.1:${pg_ports[0]}" PROJECTS_A="127.0.0.1:${pg_ports[1]}"
SCORING_A="127.0.0.1:${pg_ports[2]}" REGISTRY_B="127.0.0.1:${pg_ports[3]}"
PROJECTS_B="127.0.0.1:${pg_ports[4]}" SCORING_B="127.0.0.1:${pg_ports[5]}"
# podman-compose 1.0 ignores depends_on's health condition, and a service
# whose database does not answer exits: PostgreSQL first, until it accepts.
pg_compose up -d --no-build postgres redis >"$WORK/pg-up.log" 2>&1 ||
  { cat "$WORK/pg-up.log" >&2; die "podman-compose up postgres failed"; }
for _ in $(seq 60); do
  podman exec "${PG_PROJECT}_postgres_1" pg_isready --host=/tmp --username=postgres \
    >/dev/null 2>&1 && break
  sleep 1
done
podman exec "${PG_PROJECT}_postgres_1" pg_isready --host=/tmp --username=postgres >/dev/null ||
  die "postgres does not accept connections after 60 s"
databases="$(podman exec "${PG_PROJECT}_postgres_1" psql --host=/tmp --username=postgres \
  --no-psqlrc -At -c "SELECT string_agg(datname || ':' || pg_get_userbyid(datdba), ' ' ORDER BY datname)
                      FROM pg_database WHERE datname IN ('registry', 'projects', 'scoring')")"
[[ "$databases" == "projects:fivestar registry:fivestar scoring:fivestar" ]] ||
  die "postgres: want the three databases owned by fivestar, have: $databases"
ok "postgres accepts connections; databases $databases"
# Both replicas of each service at once: their migrations meet under the
# advisory lock. The loader once all six serve: on two busy cores its
# import timed out while the scoring replicas were still starting.
pg_compose up -d --no-build registry-a registry-b projects-a projects-b scoring-a scoring-b \
  >>"$WORK/pg-up.log" 2>&1 || { cat "$WORK/pg-up.log" >&2; die "podman-compose up failed"; }
echo "published: registry $REGISTRY_A $REGISTRY_B, projects $PROJECTS_A $PROJECTS_B," \
  "scoring $SCORING_A $SCORING_B"
for lane in A B; do
  REGISTRY="$(eval echo "\$REGISTRY_$lane")" PROJECTS="$(eval echo "\$PROJECTS_$lane")"
  SCORING="$(eval echo "\$SCORING_$lane")"
  wait_serving
done

step "postgres: the Huiche loader, through registry-a and projects-a"
pg_compose up -d --no-build loader >>"$WORK/pg-up.log" 2>&1 ||
  { cat "$WORK/pg-up.log" >&2; die "podman-compose up loader failed"; }
# run_loader <container>: waits for it; when it failed with "retry later"
# (UNAVAILABLE: on these busy two cores, projects' look-up of the villages
# at the registry has missed its deadline), starts it again, twice at most:
# every step of the loader is idempotent. Leaves the logs in loader.log.
run_loader() {
  local attempt code
  : >"$WORK/loader.log"
  for attempt in 1 2 3; do
    code="$(timeout 180 podman wait "$1")" || die "$1 did not finish"
    podman logs --since 0 "$1" >"$WORK/loader-$attempt.log" 2>&1 || true
    sed "s/^/  loader (run $attempt) | /" "$WORK/loader-$attempt.log"
    cat "$WORK/loader-$attempt.log" >>"$WORK/loader.log"
    [[ "$code" == 0 ]] && return 0
    grep -qF "retry later" "$WORK/loader-$attempt.log" || die "$1 exited with $code"
    echo "  $1 exited with $code, retry later: starting it again"
    podman start "$1" >/dev/null
  done
  die "$1 exited with $code three times"
}
run_loader "${PG_PROJECT}_loader_1"
grep -qF "created 30, updated 0, unchanged 0" "$WORK/loader.log" ||
  die "the loader did not create the 30 regions"
grep -qF "reports: created 315" "$WORK/loader.log" ||
  die "the loader did not create the 315 progress reports"
ok "the loader imported Huiche through the a-replicas and exited 0"

step "postgres: the b-replicas read what went in through the a-replicas"
REGISTRY="$REGISTRY_A" PROJECTS="$PROJECTS_A" SCORING="$SCORING_A"
village_a="$(cli get-village 411323-huiche-west-01)" || die "get-village through registry-a failed"
REGISTRY="$REGISTRY_B"
village_b="$(cli get-village 411323-huiche-west-01)" || die "get-village through registry-b failed"
[[ -n "$village_a" && "$village_a" == "$village_b" ]] ||
  die "registry-b's village differs from registry-a's: $village_b (a: $village_a)"
ok "village 411323-huiche-west-01 through registry-b equals registry-a's ($(grep -c '' <<<"$village_a") lines)"
regions_a="$(REGISTRY="$REGISTRY_A" cli list-regions --ancestor="$TOWNSHIP")"
regions_b="$(cli list-regions --ancestor="$TOWNSHIP")"
[[ -n "$regions_a" && "$regions_a" == "$regions_b" ]] ||
  die "registry-b lists other regions than registry-a"
ok "the township's regions through registry-b equal registry-a's ($(grep -c '' <<<"$regions_b") lines)"

step "postgres: an evaluation through scoring-a, then the same data through each lane"
REGISTRY="$REGISTRY_A" PROJECTS="$PROJECTS_A" SCORING="$SCORING_A"
expect_line "evaluation (scoring-a)" \
  "$TOWNSHIP 2022-09, rubric v1: 21 of 21 villages evaluated, 0 failed (recorded)" \
  cli evaluate-region "$TOWNSHIP" "$PERIOD"
echo "lane a: registry-a, projects-a, scoring-a"
check_data
REGISTRY="$REGISTRY_B" PROJECTS="$PROJECTS_B" SCORING="$SCORING_B"
echo "lane b: registry-b, projects-b, scoring-b"
check_data
check_metrics "127.0.0.1:${pg_ports[6]}" "127.0.0.1:${pg_ports[7]}" "127.0.0.1:${pg_ports[8]}" \
  "127.0.0.1:${pg_ports[9]}" "127.0.0.1:${pg_ports[10]}" "127.0.0.1:${pg_ports[11]}"

step "postgres: pg_dump of each database while the replicas serve, restored as deploy/README.md says"
pg() {  # pg <command...>: in the postgres container, as postgres, on its socket
  podman exec -i "${PG_PROJECT}_postgres_1" "$@"
}
count_rows() {  # the rows of every table of database $1, as "table:rows ..."
  pg psql --host=/tmp --username=postgres --no-psqlrc -At --dbname="$1" -c "
    SELECT string_agg(format('%s:%s', c.relname,
             (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname),
                                                  false, true, '')))[1]::text), ' ' ORDER BY c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'"
}
for db in registry projects scoring; do
  pg pg_dump --host=/tmp --username=postgres --format=custom "$db" >"$WORK/$db.dump" ||
    die "pg_dump $db failed"
  pg createdb --host=/tmp --username=postgres --owner=fivestar "${db}_restored" ||
    die "createdb ${db}_restored failed"
  pg pg_restore --host=/tmp --username=postgres --clean --if-exists --no-owner \
    --role=fivestar --exit-on-error --dbname="${db}_restored" <"$WORK/$db.dump" ||
    die "pg_restore of $db failed"
  live="$(count_rows "$db")" restored="$(count_rows "${db}_restored")"
  [[ -n "$live" && "$live" == "$restored" ]] ||
    die "$db restored from its dump differs: $restored (live: $live)"
  owner="$(pg psql --host=/tmp --username=postgres --no-psqlrc -At --dbname="${db}_restored" -c \
    "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'")"
  [[ "$owner" == fivestar ]] || die "${db}_restored: tables owned by $owner"
  pg dropdb --host=/tmp --username=postgres "${db}_restored"
  ok "pg_dump of $db while it serves, restored into an empty database: the same rows in" \
    "$(wc -w <<<"$live") tables, owned by fivestar"
done

step "postgres: users and file systems"
check_locked_down "${PG_PROJECT}_registry-a_1" "${PG_PROJECT}_registry-b_1" \
  "${PG_PROJECT}_projects-a_1" "${PG_PROJECT}_projects-b_1" \
  "${PG_PROJECT}_scoring-a_1" "${PG_PROJECT}_scoring-b_1"
user="$(podman exec "${PG_PROJECT}_postgres_1" id -u)"
read_only="$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "${PG_PROJECT}_postgres_1")"
[[ "$user" == 10002 && "$read_only" == true ]] ||
  die "postgres runs as uid $user, read-only root $read_only"
ok "${PG_PROJECT}_postgres_1 runs as uid 10002 with a read-only root file system"
for name in "${PG_PROJECT}_registry-a_1" "${PG_PROJECT}_scoring-b_1"; do
  if podman exec "$name" env | grep -q '^PGPASSWORD='; then
    die "$name has PGPASSWORD in its environment"
  fi
done
ok "the services take the password from PGPASSFILE (no PGPASSWORD in their environment)"

step "postgres: one scoring replica follows the feeds; when it stops, the other takes over"
lease_count() {  # lease_count <lane>: how often scoring-<lane> logged lease_acquired
  podman logs "${PG_PROJECT}_scoring-$1_1" 2>&1 | grep -c 'msg=lease_acquired' || true
}
for _ in $(seq 60); do
  [[ $(($(lease_count a) + $(lease_count b))) -ge 1 ]] && break
  sleep 1
done
count_a="$(lease_count a)" count_b="$(lease_count b)"
if [[ "$count_a" == 1 && "$count_b" == 0 ]]; then
  holder=a other=b
elif [[ "$count_a" == 0 && "$count_b" == 1 ]]; then
  holder=b other=a
else
  die "want one scoring replica holding the feeds' lease, scoring-a acquired it $count_a times, scoring-b $count_b"
fi
ok "scoring-$holder follows the feeds (msg=lease_acquired), scoring-$other waits"
stop_checked "${PG_PROJECT}_scoring-${holder}_1" "$STOP_GRACE_SECONDS"
for _ in $(seq 60); do
  [[ "$(lease_count "$other")" -ge 1 ]] && break
  sleep 1
done
[[ "$(lease_count "$other")" -ge 1 ]] ||
  die "scoring-$other did not take the feeds' lease within 60 s of scoring-$holder stopping"
ok "scoring-$other took over the feeds after scoring-$holder stopped"
REGISTRY="$(eval echo "\$REGISTRY_${other^^}")" PROJECTS="$(eval echo "\$PROJECTS_${other^^}")"
SCORING="$(eval echo "\$SCORING_${other^^}")"
echo "lane $other, while scoring-$holder is stopped"
check_data
podman start "${PG_PROJECT}_scoring-${holder}_1" >/dev/null 2>>"$WORK/podman.log"
REGISTRY="$(eval echo "\$REGISTRY_${holder^^}")" PROJECTS="$(eval echo "\$PROJECTS_${holder^^}")"
SCORING="$(eval echo "\$SCORING_${holder^^}")"
cli --deadline=2s health --wait=120s "$SCORING" fivestar.scoring.v1.ScoringService >/dev/null ||
  die "scoring-$holder did not come back"
echo "lane $holder, started again"
check_data

step "postgres: down -v"
teardown_postgres
left="$(podman ps -a --filter "label=io.podman.compose.project=$PG_PROJECT" --format '{{.Names}}')"
[[ -z "$left" ]] || die "containers left after down: $left"
left="$(podman volume ls --filter "label=io.podman.compose.project=$PG_PROJECT" --format '{{.Name}}')"
[[ -z "$left" ]] || die "volumes left after down: $left"
ok "no container, volume or network of $PG_PROJECT left"
