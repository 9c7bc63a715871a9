#!/usr/bin/env bash
# Checks the containers for real: builds the images from deploy/Containerfile,
# runs the stack of deploy/compose.yaml (redis, the three services and the
# Huiche loader) with podman, then the Kubernetes manifests of deploy/k8s
# with `podman kube play`, then deploy/compose.postgres.yaml (PostgreSQL and
# two replicas of each service; scripts/container-test-postgres.sh), and
# checks each from the host with the project's CLI against published
# loopback ports. Tears everything down at the end
# (and at the start, what a killed run left); a second run works the same.
# Images and podman's build cache are kept, so a second run builds nothing.
#
# Usage: scripts/container-test.sh [--compose-only | --kube-only | --postgres-only]
# (JOBS=1 in the environment caps the build stage's compiler jobs.)
#
# Needs root and Debian's archive: installs podman, runc, catatonit,
# podman-compose, debootstrap, curl, sqlite3 and python3-yaml when missing,
# builds the base image docker.io/library/debian:12-slim with debootstrap
# when no registry has it (scripts/container-base.sh), and builds the host's
# CLI with scripts/build.sh (BUILD_DIR, default build) unless it is there.
# podman runs under deploy/podman/containers.conf (CONTAINERS_CONF). From
# nothing (no base image, no build cache) it took 5.5 minutes on two cores,
# 3.5 of them compiling in the build stage; with the images built, 2.5
# (before the PostgreSQL part; with it about 3, --postgres-only 2.5).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-all}"
case "$MODE" in
  all | --compose-only | --kube-only | --postgres-only) ;;
  *) echo "usage: $0 [--compose-only | --kube-only | --postgres-only]" >&2; exit 2 ;;
esac

export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/deploy/podman/containers.conf}"
BUILD_DIR="${BUILD_DIR:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
CLI="$BUILD_DIR/tools/cli/fivestar"
BASE_IMAGE=docker.io/library/debian:12-slim
VERSION=0.1.0
PROJECT=fivestar-container-test   # compose project: names, volumes, network
PG_PROJECT=fivestar-container-test-pg   # the same for compose.postgres.yaml
KUBE_NETWORK=fivestar-container-test-kube
KUBE_PG_NETWORK=fivestar-container-test-kube-pg
TOWNSHIP=411323-huiche
PERIOD=2022-09
EXPECTED_BOARD="$ROOT/tests/integration/expected/huiche_leaderboard_2022-09.txt"
MAX_IMAGE_GROWTH_MB=120
STOP_GRACE_SECONDS=10             # compose: podman's default stop timeout
STARTED=$SECONDS
CHECKS=0

step() { printf '\n==> %s\n' "$*"; }
ok() {
  CHECKS=$((CHECKS + 1))
  printf 'ok %3d  %s\n' "$CHECKS" "$*"
}
die() {
  echo "container-test: FAILED: $*" >&2
  exit 1
}
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

WORK="$(mktemp -d)"
chmod 0700 "$WORK"
compose() {
  podman-compose -p "$PROJECT" -f "$ROOT/deploy/compose.yaml" "$@"
}
teardown_compose() {
  compose down -v >/dev/null 2>&1 || true
  podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
}
pg_compose() {
  podman-compose -p "$PG_PROJECT" -f "$ROOT/deploy/compose.postgres.yaml" "$@"
}
teardown_postgres() {
  pg_compose down -v >/dev/null 2>&1 || true
  podman network rm -f "${PG_PROJECT}_default" >/dev/null 2>&1 || true
}
teardown_kube_postgres() {
  local file pod anonymous=()
  # The image's VOLUME /var/lib/fivestar, which the manifests leave to
  # Kubernetes (it ignores it), is an anonymous volume in podman that
  # `kube down` keeps: removed with its pods.
  for pod in $(podman pod ls --format '{{.Name}}' 2>/dev/null |
      grep -E '^fivestar-(registry|projects|scoring)-[ab]-pod-0$' || true); do
    anonymous+=($(podman pod inspect --format '{{range .Containers}}{{.Name}} {{end}}' "$pod" |
      xargs -r podman inspect --format '{{range .Mounts}}{{if eq .Destination "/var/lib/fivestar"}}{{.Name}} {{end}}{{end}}' 2>/dev/null || true))
  done
  for file in "$WORK/kube-pg-loader.yaml" "$WORK/kube-pg.yaml" "$WORK/kube-pg-db.yaml"; do
    [[ -f "$file" ]] && podman kube down "$file" >/dev/null 2>&1 || true
  done
  podman pod ls --format '{{.Name}}' 2>/dev/null |
    grep -E '^(fivestar-(registry|projects|scoring)-[ab]-pod-0|fivestar-(postgres|redis)-pod-0|fivestar-load-huiche)$' |
    xargs -r podman pod rm -f >/dev/null 2>&1 || true
  podman volume ls --format '{{.Name}}' |
    grep -E '^(fivestar-postgres-data|fivestar-(registry|projects|scoring)-[ab]-[a-z]+-tmp|fivestar-postgres-(postgres-tmp|shm))$' |
    xargs -r podman volume rm -f >/dev/null 2>&1 || true
  [[ ${#anonymous[@]} -eq 0 ]] || podman volume rm -f "${anonymous[@]}" >/dev/null 2>&1 || true
  podman network rm -f "$KUBE_PG_NETWORK" >/dev/null 2>&1 || true
}
teardown_kube() {
  if [[ -f "$WORK/kube.yaml" ]]; then
    podman kube down "$WORK/kube.yaml" >/dev/null 2>&1 || true
  fi
  podman pod rm -f fivestar-load-huiche >/dev/null 2>&1 || true
  podman pod ls --format '{{.Name}}' --filter label=app.kubernetes.io/part-of=fivestar \
    2>/dev/null | xargs -r podman pod rm -f >/dev/null 2>&1 || true
  podman volume ls --format '{{.Name}}' |
    grep -E '^(fivestar-(registry|projects|scoring)-data|(registry|projects|scoring)-tmp)$' |
    xargs -r podman volume rm -f >/dev/null 2>&1 || true
  podman secret ls --format '{{.Name}}' 2>/dev/null |
    grep -E '^fivestar-(tokens|projects-registry-token|scoring-peer-token)$' |
    xargs -r podman secret rm >/dev/null 2>&1 || true
  podman network rm -f "$KUBE_NETWORK" >/dev/null 2>&1 || true
}
cleanup() {
  local status=$?
  if [[ $status -ne 0 ]]; then
    echo "--- containers of this run ---" >&2
    podman ps -a --format '{{.Names}} {{.Status}}' >&2 || true
    for name in $(podman ps -a --format '{{.Names}}' | grep -E "^${PROJECT}_|fivestar-" || true); do
      echo "--- last log lines of $name ---" >&2
      podman logs --tail 15 "$name" >&2 2>&1 || true
    done
  fi
  teardown_compose
  teardown_kube
  teardown_postgres
  teardown_kube_postgres
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT

step "tools: podman, runc, catatonit, podman-compose, debootstrap, curl, sqlite3, python3-yaml"
missing=()
for package in podman runc catatonit podman-compose debootstrap curl sqlite3 python3-yaml; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
podman --version
echo "runtime: $(podman info --format '{{.Host.OCIRuntime.Name}}'), cgroups:" \
  "$(podman info --format '{{.Host.CgroupManager}}') (CONTAINERS_CONF=$CONTAINERS_CONF)"

step "the base image"
"$ROOT/scripts/container-base.sh" "$BASE_IMAGE"

step "the host's CLI ($CLI)"
if [[ ! -x "$CLI" ]]; then
  "$ROOT/scripts/install-deps.sh"
  BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build.sh" fivestar
fi
"$CLI" help >/dev/null 2>&1 || die "$CLI does not run"
echo "using $CLI"

step "what an earlier, interrupted run left behind"
teardown_compose
teardown_kube
teardown_postgres
teardown_kube_postgres
echo "nothing left"

step "images from deploy/Containerfile (compiled once, in the build stage)"
build_image() {  # build_image <target> <tag>
  local started=$SECONDS
  if ! podman build --quiet ${JOBS:+--build-arg "JOBS=$JOBS"} -f "$ROOT/deploy/Containerfile" \
      --target "$1" -t "$2" "$ROOT" >"$WORK/build-$1.log" 2>&1; then
    tail -n 40 "$WORK/build-$1.log" >&2
    die "podman build --target $1 failed"
  fi
  echo "built $2 in $((SECONDS - started)) s"
}
build_image registry "fivestar-registry:$VERSION"
build_image projects "fivestar-projects:$VERSION"
build_image scoring "fivestar-scoring:$VERSION"
build_image tools "fivestar-tools:$VERSION"
build_image redis "fivestar-redis:7.0"
build_image postgres "fivestar-postgres:15"
base_size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
for image in registry projects scoring tools; do
  size=$(podman image inspect --format '{{.Size}}' "fivestar-$image:$VERSION")
  growth=$(((size - base_size) / 1000000))
  [[ $growth -lt $MAX_IMAGE_GROWTH_MB ]] ||
    die "fivestar-$image:$VERSION is $growth MB above the base (limit $MAX_IMAGE_GROWTH_MB MB)"
  ok "fivestar-$image:$VERSION is $growth MB above the base image ($((base_size / 1000000)) MB)"
done
for image in registry projects scoring; do
  entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}} {{.Config.User}}' \
    "fivestar-$image:$VERSION")
  [[ "$entrypoint" == "[\"/usr/local/bin/fivestar-$image\"] 10001:10001" ]] ||
    die "fivestar-$image:$VERSION: entrypoint and user are $entrypoint"
  ok "fivestar-$image:$VERSION runs /usr/local/bin/fivestar-$image itself (no shell) as 10001:10001"
done
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}} {{.Config.User}}' \
  fivestar-postgres:15)
[[ "$entrypoint" == '["/usr/local/bin/fivestar-postgres"] 10002:10002' ]] ||
  die "fivestar-postgres:15: entrypoint and user are $entrypoint"
ok "fivestar-postgres:15 runs /usr/local/bin/fivestar-postgres as 10002:10002" \
  "($(($(podman image inspect --format '{{.Size}}' fivestar-postgres:15) / 1000000)) MB)"

step "tokens (minted on the host; the services get SHA-256 hashes only)"
"$CLI" new-token admin '*' container-test-admin >"$WORK/admin-token"
"$CLI" new-token viewer '*' projects-service >"$WORK/projects-token"
"$CLI" new-token viewer '*' scoring-service >"$WORK/scoring-token"
for principal in admin projects scoring; do sed -n 2p "$WORK/$principal-token"; done \
  >"$WORK/tokens"
chmod 0644 "$WORK/tokens"
ADMIN_TOKEN="$(sed -n 1p "$WORK/admin-token")"
PROJECTS_TOKEN="$(sed -n 1p "$WORK/projects-token")"
SCORING_TOKEN="$(sed -n 1p "$WORK/scoring-token")"
echo "admin, projects-service and scoring-service tokens in $WORK"

# The checks both stacks get. Arguments: the three gRPC addresses and the
# three metrics addresses the host reaches them at.
cli() {
  FIVESTAR_TOKEN="$ADMIN_TOKEN" "$CLI" --registry="$REGISTRY" --projects="$PROJECTS" \
    --scoring="$SCORING" "$@"
}
wait_serving() {
  local address service
  for pair in "$REGISTRY fivestar.registry.v1.RegistryService" \
      "$PROJECTS fivestar.projects.v1.ProjectsService" \
      "$SCORING fivestar.scoring.v1.ScoringService"; do
    read -r address service <<<"$pair"
    cli --deadline=2s health --wait=120s "$address" "$service" >/dev/null ||
      die "$service at $address is not SERVING after 120 s"
    ok "$service SERVING at $address"
  done
}
expect_line() {  # expect_line <what> <fixed string> <command...>
  local what="$1" want="$2"
  shift 2
  local out
  out="$("$@" 2>&1)" || die "$what: $* failed: $out"
  grep -qF -- "$want" <<<"$out" || die "$what: want \"$want\" in: $out"
  ok "$what: $want"
}
check_data() {
  expect_line "registry" \
    "targets (定星): four-star target: 3, three-star: 7, two-star: 9, none: 2" \
    cli registry-summary "$TOWNSHIP"
  expect_line "projects" "193 total, 145 delivered: 75.1 % complete" \
    cli project-summary --period="$PERIOD" "$TOWNSHIP"
  expect_line "scoring" \
    "level 4: 4 of 5 stars earned (摘星), 370 points; target (定星) 4, reached" \
    cli get-evaluation 411323-huiche-west-01 "$PERIOD"
  local board
  board="$(cli leaderboard "$TOWNSHIP" "$PERIOD")" || die "leaderboard failed: $board"
  if ! diff -u "$EXPECTED_BOARD" <(printf '%s\n' "$board") >"$WORK/board.diff"; then
    cat "$WORK/board.diff" >&2
    die "the township leaderboard differs from the demo's"
  fi
  ok "the township leaderboard equals the demo's ($(grep -c '' "$EXPECTED_BOARD") lines," \
    "tests/integration/expected/huiche_leaderboard_2022-09.txt)"
}
check_metrics() {
  local address
  for address in "$@"; do
    curl -fsS --max-time 5 "http://$address/metrics" >"$WORK/metrics" ||
      die "no metrics at http://$address/metrics"
    grep -q '^fivestar_' "$WORK/metrics" || die "no fivestar_ metrics at $address"
    ok "metrics at http://$address/metrics ($(grep -c '^fivestar_' "$WORK/metrics") fivestar_ samples)"
  done
}
check_locked_down() {  # check_locked_down <container>...
  local name user read_only
  for name in "$@"; do
    user="$(podman exec "$name" id -u)"
    read_only="$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$name")"
    [[ "$user" == 10001 ]] || die "$name runs as uid $user"
    [[ "$read_only" == true ]] || die "$name: the root file system is writable"
    # As root inside, where only a read-only mount stops a write.
    if podman exec --user 0 "$name" touch /probe 2>"$WORK/touch.err"; then
      die "$name: root could write to the root file system"
    fi
    grep -q 'Read-only file system' "$WORK/touch.err" ||
      die "$name: writing / failed otherwise: $(cat "$WORK/touch.err")"
    ok "$name runs as uid 10001 with a read-only root file system"
  done
}
stop_checked() {  # stop_checked <container> <grace in seconds>
  local started elapsed code
  started=$(date +%s.%N)
  podman stop "$1" >/dev/null 2>>"$WORK/podman.log"
  elapsed=$(/usr/bin/python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" \
    "$started" "$(date +%s.%N)")
  code="$(podman inspect --format '{{.State.ExitCode}}' "$1")"
  [[ "$code" == 0 ]] || die "$1 exited with $code on podman stop"
  /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" \
    "$elapsed" "$2" || die "$1 took $elapsed s to stop (grace $2 s)"
  ok "podman stop $1: exit code 0 after $elapsed s (grace $2 s)"
}
stop_and_start() {  # stop_and_start <container> <address> <health service>
  stop_checked "$1" "$STOP_GRACE_SECONDS"
  podman start "$1" >/dev/null 2>>"$WORK/podman.log"
  cli --deadline=2s health --wait=120s "$2" "$3" >/dev/null || die "$1 did not come back"
}

if [[ "$MODE" == all || "$MODE" == --compose-only ]]; then
  step "compose: podman-compose -p $PROJECT -f deploy/compose.yaml up -d"
  export FIVESTAR_SECRETS_DIR="$WORK"
  export FIVESTAR_PROJECTS_REGISTRY_TOKEN="$PROJECTS_TOKEN"
  export FIVESTAR_SCORING_PEER_TOKEN="$SCORING_TOKEN"
  export FIVESTAR_LOADER_TOKEN="$ADMIN_TOKEN"
  ports=()
  while [[ ${#ports[@]} -lt 6 ]]; do
    port="$(free_port)"
    [[ " ${ports[*]} " == *" $port "* ]] || ports+=("$port")
  done
  export FIVESTAR_REGISTRY_PORT=${ports[0]} FIVESTAR_PROJECTS_PORT=${ports[1]}
  export FIVESTAR_SCORING_PORT=${ports[2]} FIVESTAR_REGISTRY_METRICS_PORT=${ports[3]}
  export FIVESTAR_PROJECTS_METRICS_PORT=${ports[4]} FIVESTAR_SCORING_METRICS_PORT=${ports[5]}
  REGISTRY="127.0.0.1:${ports[0]}"
  PROJECTS="127.0.0.1:${ports[1]}"
  SCORING="127.0.0.1:${ports[2]}"
  compose up -d --no-build >"$WORK/compose-up.log" 2>&1 ||
    { cat "$WORK/compose-up.log" >&2; die "podman-compose up failed"; }
  echo "published: registry $REGISTRY, projects $PROJECTS, scoring $SCORING;" \
    "metrics on 127.0.0.1:${ports[3]}, :${ports[4]}, :${ports[5]}"
  wait_serving

  step "compose: the Huiche loader"
  code="$(timeout 180 podman wait "${PROJECT}_loader_1")" || die "the loader did not finish"
  podman logs "${PROJECT}_loader_1" >"$WORK/loader.log" 2>&1
  sed 's/^/  loader | /' "$WORK/loader.log"
  [[ "$code" == 0 ]] || die "the loader exited with $code"
  grep -qF "created 30, updated 0, unchanged 0" "$WORK/loader.log" ||
    die "the loader did not create the 30 regions"
  grep -qF "projects: created 193, updated 0, unchanged 0; reports: created 315" \
    "$WORK/loader.log" || die "the loader did not create the 193 projects"
  ok "the loader imported Huiche (30 regions, 193 projects, 315 reports) and exited 0"

  step "compose: an evaluation and the leaderboard"
  expect_line "evaluation" \
    "$TOWNSHIP 2022-09, rubric v1: 21 of 21 villages evaluated, 0 failed (recorded)" \
    cli evaluate-region "$TOWNSHIP" "$PERIOD"
  check_data
  check_metrics "127.0.0.1:${ports[3]}" "127.0.0.1:${ports[4]}" "127.0.0.1:${ports[5]}"

  step "compose: users and file systems"
  check_locked_down "${PROJECT}_registry_1" "${PROJECT}_projects_1" \
    "${PROJECT}_scoring_1" "${PROJECT}_redis_1"

  step "compose: an online backup of each database, as deploy/README.md does it"
  mkdir -m 0777 "$WORK/backup"
  for service in registry projects scoring; do
    podman run --rm --network none --read-only \
      -v "${PROJECT}_$service-data:/var/lib/fivestar" -v "$WORK/backup:/backup" \
      --entrypoint sqlite3 "fivestar-tools:$VERSION" \
      "/var/lib/fivestar/$service.db" ".backup /backup/$service.db" ||
      die "the backup of $service.db failed"
    check="$(sqlite3 "$WORK/backup/$service.db" 'PRAGMA integrity_check')"
    [[ "$check" == ok ]] || die "the backup of $service.db: integrity_check says $check"
    ok "backup of $service.db while it serves: integrity_check ok," \
      "$(sqlite3 "$WORK/backup/$service.db" 'SELECT count(*) FROM sqlite_master') schema objects"
  done

  step "compose: podman stop and start each service; the data stay"
  stop_and_start "${PROJECT}_registry_1" "$REGISTRY" fivestar.registry.v1.RegistryService
  stop_and_start "${PROJECT}_projects_1" "$PROJECTS" fivestar.projects.v1.ProjectsService
  stop_and_start "${PROJECT}_scoring_1" "$SCORING" fivestar.scoring.v1.ScoringService
  check_data

  step "compose: down -v"
  teardown_compose
  left="$(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}')"
  [[ -z "$left" ]] || die "containers left after down: $left"
  left="$(podman volume ls --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Name}}')"
  [[ -z "$left" ]] || die "volumes left after down: $left"
  ok "no container, volume or network of $PROJECT left"
fi

if [[ "$MODE" == all || "$MODE" == --kube-only ]]; then
  # shellcheck source=scripts/container-test-kube.sh
  source "$ROOT/scripts/container-test-kube.sh"
fi

if [[ "$MODE" == all || "$MODE" == --postgres-only ]]; then
  # shellcheck source=scripts/container-test-postgres.sh
  source "$ROOT/scripts/container-test-postgres.sh"
  # shellcheck source=scripts/container-test-kube-postgres.sh
  source "$ROOT/scripts/container-test-kube-postgres.sh"
fi

step "done"
echo "container-test: all $CHECKS checks passed in $((SECONDS - STARTED)) s"
