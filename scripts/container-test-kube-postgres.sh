# The Kubernetes half of the PostgreSQL part of scripts/container-test.sh
# (sourced by it, not run alone): plays deploy/k8s-postgres with `podman
# kube play` and checks both replicas of each service against the pods.
#
# The rendered copy differs from the manifests as scripts/container-test-kube.sh
# says (no Services, so the ConfigMap names pods; a free hostPort on
# 127.0.0.1 for each containerPort; secret volumes as read-only host
# directories and secretKeyRef as the value), and in two things more:
# podman 4.3 plays one pod of a Deployment whatever its replicas, so each
# Deployment of two replicas is played as two (<name>-a and <name>-b, one
# replica each, the same labels), both lanes' peers being the a-pods; and
# each emptyDir is named after its pod, since podman makes a named volume
# of it that two pods would otherwise share. PostgreSQL is played first,
# the services once it accepts connections (podman does not restart a
# server that exited because its database did not answer), the loader once
# they serve.

step "kube-postgres: rendering deploy/k8s-postgres for podman kube play"
mkdir -p "$WORK/secrets/fivestar-tokens" "$WORK/secrets/fivestar-postgres-password"
cp "$WORK/tokens" "$WORK/secrets/fivestar-tokens/tokens"
tr -d '\n' <"$WORK/db-password" >"$WORK/secrets/fivestar-postgres-password/password"
chmod 0755 "$WORK/secrets" "$WORK/secrets/fivestar-tokens" "$WORK/secrets/fivestar-postgres-password"
chmod 0444 "$WORK/secrets/fivestar-tokens/tokens"
chmod 0400 "$WORK/secrets/fivestar-postgres-password/password"
chown 10002:10002 "$WORK/secrets/fivestar-postgres-password/password"
kube_pg_ports=()
while [[ ${#kube_pg_ports[@]} -lt 14 ]]; do
  port="$(free_port)"
  [[ " ${kube_pg_ports[*]} " == *" $port "* ]] || kube_pg_ports+=("$port")
done
/usr/bin/python3 - "$WORK" "$PROJECTS_TOKEN" "$SCORING_TOKEN" "$ADMIN_TOKEN" \
    "$(tr -d '\n' <"$WORK/db-password")" "${kube_pg_ports[*]}" \
    "$ROOT/deploy/k8s-postgres" "$ROOT/deploy/k8s/load-huiche.yaml" <<'PYTHON'
import copy
import sys
import yaml

work, projects_token, scoring_token, admin_token, password = sys.argv[1:6]
host_ports = [int(port) for port in sys.argv[6].split()]
directory, loader = sys.argv[7:9]
published = open(f"{work}/kube-pg-ports", "w")
secret_values = {
    "fivestar-projects-registry-token": {"token": projects_token},
    "fivestar-scoring-peer-token": {"token": scoring_token},
    "fivestar-loader-token": {"token": admin_token},
    "fivestar-postgres-password": {"password": password},
    "fivestar-database": {
        db: f"postgresql://fivestar@fivestar-postgres-pod-0:5432/{db}"
        for db in ("registry", "projects", "scoring")},
}
paths = [f"{directory}/{name}.yaml" for name in
         ("config", "serviceaccount", "postgres", "redis", "registry", "projects", "scoring")]
first, rest, last = [], [], []
for path in paths + [loader]:
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            kind, name = doc["kind"], doc["metadata"]["name"]
            if kind not in ("ConfigMap", "PersistentVolumeClaim", "Deployment", "Pod"):
                print(f"not played: {kind} {name}", file=sys.stderr)
                continue
            if kind == "ConfigMap" and name == "fivestar-config":
                doc["data"]["FIVESTAR_REGISTRY"] = "fivestar-registry-a-pod-0:50051"
                doc["data"]["FIVESTAR_PROJECTS"] = "fivestar-projects-a-pod-0:50051"
                doc["data"]["FIVESTAR_REDIS"] = "fivestar-redis-pod-0:6379"
            copies = [doc]
            if kind == "Deployment" and doc["spec"]["replicas"] == 2:
                copies = []
                for suffix in ("a", "b"):
                    one = copy.deepcopy(doc)
                    one["metadata"]["name"] = f"{name}-{suffix}"
                    one["spec"]["replicas"] = 1
                    copies.append(one)
            for doc in copies:
                name = doc["metadata"]["name"]
                spec = {"Deployment": lambda: doc["spec"]["template"]["spec"],
                        "Pod": lambda: doc["spec"]}.get(kind, lambda: None)()
                if spec:
                    renamed = {}
                    for volume in spec.get("volumes", []):
                        secret = volume.pop("secret", None)
                        if secret:
                            volume["hostPath"] = {
                                "path": f"{work}/secrets/{secret['secretName']}",
                                "type": "Directory"}
                        if "emptyDir" in volume:
                            renamed[volume["name"]] = f"{name}-{volume['name']}"
                            volume["name"] = renamed[volume["name"]]
                    for container in spec["containers"]:
                        for mount in container.get("volumeMounts", []):
                            mount["name"] = renamed.get(mount["name"], mount["name"])
                        for port in container.get("ports", []):
                            port["hostIP"] = "127.0.0.1"
                            port["hostPort"] = host_ports.pop(0)
                            print(name, port["name"], port["hostPort"], file=published)
                        for variable in container.get("env", []):
                            ref = variable.get("valueFrom", {}).get("secretKeyRef")
                            if ref:
                                del variable["valueFrom"]
                                variable["value"] = secret_values[ref["name"]][ref["key"]]
                print(f"played: {kind} {name}", file=sys.stderr)
                if kind == "ConfigMap":  # kube play reads it from the same file
                    last.append(doc)
                (first if "postgres" in name else last if kind == "Pod" else rest).append(doc)
with open(f"{work}/kube-pg-db.yaml", "w") as out:
    yaml.safe_dump_all(first, out, sort_keys=False)
with open(f"{work}/kube-pg.yaml", "w") as out:
    yaml.safe_dump_all(rest, out, sort_keys=False)
with open(f"{work}/kube-pg-loader.yaml", "w") as out:
    yaml.safe_dump_all(last, out, sort_keys=False)
PYTHON

kube_pg_published() {  # kube_pg_published <deployment> <port name>
  echo "127.0.0.1:$(awk -v d="$1" -v p="$2" '$1 == d && $2 == p {print $3}' "$WORK/kube-pg-ports")"
}

step "kube-postgres: podman kube play (network $KUBE_PG_NETWORK)"
podman network create "$KUBE_PG_NETWORK" >/dev/null
podman kube play --network "$KUBE_PG_NETWORK" "$WORK/kube-pg-db.yaml" >"$WORK/kube-pg-play.log" 2>&1 ||
  { cat "$WORK/kube-pg-play.log" >&2; die "podman kube play (postgres) failed"; }
for _ in $(seq 60); do
  podman exec fivestar-postgres-pod-0-postgres pg_isready --host=/tmp --username=postgres \
    >/dev/null 2>&1 && break
  sleep 1
done
podman exec fivestar-postgres-pod-0-postgres pg_isready --host=/tmp --username=postgres >/dev/null ||
  die "the postgres pod does not accept connections after 60 s"
ok "the postgres pod accepts connections"
podman kube play --network "$KUBE_PG_NETWORK" "$WORK/kube-pg.yaml" >>"$WORK/kube-pg-play.log" 2>&1 ||
  { cat "$WORK/kube-pg-play.log" >&2; die "podman kube play failed"; }
for lane in a b; do
  REGISTRY="$(kube_pg_published "fivestar-registry-$lane" grpc)"
  PROJECTS="$(kube_pg_published "fivestar-projects-$lane" grpc)"
  SCORING="$(kube_pg_published "fivestar-scoring-$lane" grpc)"
  wait_serving
done
# The loader once all six serve, as with compose.
podman kube play --network "$KUBE_PG_NETWORK" "$WORK/kube-pg-loader.yaml" \
  >>"$WORK/kube-pg-play.log" 2>&1 ||
  { cat "$WORK/kube-pg-play.log" >&2; die "podman kube play (loader) failed"; }
run_loader fivestar-load-huiche-loader
grep -qF "created 30, updated 0, unchanged 0" "$WORK/loader.log" ||
  die "the loader pod did not create the 30 regions"
ok "the loader pod imported Huiche through the a-pods and exited 0"

step "kube-postgres: the same data through each replica"
REGISTRY="$(kube_pg_published fivestar-registry-a grpc)"
PROJECTS="$(kube_pg_published fivestar-projects-a grpc)"
SCORING="$(kube_pg_published fivestar-scoring-a grpc)"
expect_line "evaluation (scoring-a pod)" \
  "$TOWNSHIP 2022-09, rubric v1: 21 of 21 villages evaluated, 0 failed (recorded)" \
  cli evaluate-region "$TOWNSHIP" "$PERIOD"
village_a="$(cli get-village 411323-huiche-west-01)" || die "get-village (registry-a pod) failed"
for lane in a b; do
  REGISTRY="$(kube_pg_published "fivestar-registry-$lane" grpc)"
  PROJECTS="$(kube_pg_published "fivestar-projects-$lane" grpc)"
  SCORING="$(kube_pg_published "fivestar-scoring-$lane" grpc)"
  echo "pods fivestar-registry-$lane, fivestar-projects-$lane, fivestar-scoring-$lane"
  # Redis started with the scoring pods: a board read before a pod's first
  # connection is served from the database, marked degraded. Wait for the
  # cache, then compare.
  for _ in $(seq 30); do
    cli leaderboard "$TOWNSHIP" "$PERIOD" 2>&1 | grep -q '^(degraded' || break
    sleep 1
  done
  check_data
done
village_b="$(cli get-village 411323-huiche-west-01)" || die "get-village (registry-b pod) failed"
[[ -n "$village_a" && "$village_a" == "$village_b" ]] ||
  die "the registry-b pod's village differs from the registry-a pod's"
ok "village 411323-huiche-west-01 through the registry-b pod equals the registry-a pod's"
check_locked_down fivestar-registry-b-pod-0-registry fivestar-scoring-b-pod-0-scoring

step "kube-postgres: down"
teardown_kube_postgres
left="$(podman pod ls --filter label=app.kubernetes.io/part-of=fivestar --format '{{.Name}}')"
[[ -z "$left" ]] || die "pods left after kube down: $left"
ok "no pod, volume or network of the kube-postgres run left"
