# The Kubernetes part of scripts/container-test.sh (sourced by it, not run
# alone): plays deploy/k8s with `podman kube play` and runs the compose
# checks against the pods.
#
# What podman 4.3 cannot play is adapted in a rendered copy, and nothing
# else: it has no Services (the ConfigMap fivestar-config points the pods at
# each other's pod names instead, which podman's DNS resolves); it publishes
# every containerPort on the host's port of the same number (so each port
# gets a free hostPort on 127.0.0.1, which the checks then use); and its
# Secret support is broken (a secret volume panics, secretKeyRef cannot
# parse the secret), so secret volumes become read-only host directories
# holding the same files and secretKeyRef becomes the value. Every other
# field of the manifests is played as written.

step "kube: rendering deploy/k8s for podman kube play"
mkdir -p "$WORK/secrets/fivestar-tokens"
cp "$WORK/tokens" "$WORK/secrets/fivestar-tokens/tokens"
chmod 0755 "$WORK/secrets" "$WORK/secrets/fivestar-tokens"
chmod 0444 "$WORK/secrets/fivestar-tokens/tokens"
KUBE_FILES=(config serviceaccount registry projects redis scoring load-huiche)
host_ports=()
while [[ ${#host_ports[@]} -lt 8 ]]; do
  port="$(free_port)"
  [[ " ${host_ports[*]} " == *" $port "* ]] || host_ports+=("$port")
done
/usr/bin/python3 - "$WORK" "$PROJECTS_TOKEN" "$SCORING_TOKEN" "$ADMIN_TOKEN" \
    "${host_ports[*]}" "${KUBE_FILES[@]/#/$ROOT/deploy/k8s/}" <<'PYTHON' >"$WORK/kube.yaml"
import sys
import yaml

work, projects_token, scoring_token, admin_token = sys.argv[1:5]
host_ports = [int(port) for port in sys.argv[5].split()]
published = open(f"{work}/kube-ports", "w")
secret_values = {
    "fivestar-projects-registry-token": {"token": projects_token},
    "fivestar-scoring-peer-token": {"token": scoring_token},
    "fivestar-loader-token": {"token": admin_token},
}
played = []
for path in sys.argv[6:]:
    with open(path + ".yaml") as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            kind, name = doc["kind"], doc["metadata"]["name"]
            if kind not in ("ConfigMap", "PersistentVolumeClaim", "Deployment", "Pod"):
                print(f"not played: {kind} {name}", file=sys.stderr)
                continue
            if kind == "ConfigMap" and name == "fivestar-config":
                for variable, deployment, port in (
                        ("FIVESTAR_REGISTRY", "fivestar-registry", 50051),
                        ("FIVESTAR_PROJECTS", "fivestar-projects", 50051),
                        ("FIVESTAR_REDIS", "fivestar-redis", 6379)):
                    doc["data"][variable] = f"{deployment}-pod-0:{port}"
            spec = {"Deployment": lambda: doc["spec"]["template"]["spec"],
                    "Pod": lambda: doc["spec"]}.get(kind, lambda: None)()
            if spec:
                for volume in spec.get("volumes", []):
                    secret = volume.pop("secret", None)
                    if secret:
                        volume["hostPath"] = {
                            "path": f"{work}/secrets/{secret['secretName']}",
                            "type": "Directory"}
                for container in spec["containers"]:
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
            played.append(doc)
yaml.safe_dump_all(played, sys.stdout, sort_keys=False)
# The same without the claims, to replace the pods: kube play refuses a
# claim whose volume exists, where Kubernetes would keep it bound.
with open(f"{work}/kube-replay.yaml", "w") as replay:
    yaml.safe_dump_all([doc for doc in played if doc["kind"] != "PersistentVolumeClaim"],
                       replay, sort_keys=False)
PYTHON

published() {  # published <deployment> <port name>: 127.0.0.1:<host port>
  echo "127.0.0.1:$(awk -v d="$1" -v p="$2" '$1 == d && $2 == p {print $3}' "$WORK/kube-ports")"
}
REGISTRY="$(published fivestar-registry grpc)"
PROJECTS="$(published fivestar-projects grpc)"
SCORING="$(published fivestar-scoring grpc)"
kube_play() {  # kube_play <rendered file>
  podman kube play --network "$KUBE_NETWORK" "$1" >"$WORK/kube-play.log" 2>&1 ||
    { cat "$WORK/kube-play.log" >&2; die "podman kube play failed"; }
  echo "published: registry $REGISTRY, projects $PROJECTS, scoring $SCORING"
  wait_serving
}
kube_loader() {  # kube_loader <fixed string the loader must print>
  local code
  code="$(timeout 180 podman wait fivestar-load-huiche-loader)" || die "the loader pod did not finish"
  podman logs fivestar-load-huiche-loader >"$WORK/loader.log" 2>&1
  sed 's/^/  loader | /' "$WORK/loader.log"
  [[ "$code" == 0 ]] || die "the loader pod exited with $code"
  grep -qF -- "$1" "$WORK/loader.log" || die "the loader did not print \"$1\""
  ok "the loader pod exited 0: $1"
}

step "kube: podman kube play (network $KUBE_NETWORK)"
podman network create "$KUBE_NETWORK" >/dev/null
kube_play "$WORK/kube.yaml"
kube_loader "created 30, updated 0, unchanged 0"

step "kube: an evaluation and the leaderboard"
expect_line "evaluation" \
  "$TOWNSHIP 2022-09, rubric v1: 21 of 21 villages evaluated, 0 failed (recorded)" \
  cli evaluate-region "$TOWNSHIP" "$PERIOD"
check_data
check_metrics "$(published fivestar-registry metrics)" \
  "$(published fivestar-projects metrics)" "$(published fivestar-scoring metrics)"

step "kube: users and file systems"
check_locked_down fivestar-registry-pod-0-registry fivestar-projects-pod-0-projects \
  fivestar-scoring-pod-0-scoring fivestar-redis-pod-0-redis

step "kube: podman stop each service, then the pods replaced; the volume claims keep the data"
for service in registry projects scoring; do
  # podman 4.3 keeps its 10 s stop timeout (it ignores
  # terminationGracePeriodSeconds, 20 s), so that is the grace here.
  stop_checked "fivestar-$service-pod-0-$service" 10
done
podman kube down "$WORK/kube.yaml" >/dev/null 2>>"$WORK/podman.log"
kube_play "$WORK/kube-replay.yaml"
kube_loader "created 0, updated 0, unchanged 30"
check_data

step "kube: down"
teardown_kube
left="$(podman pod ls --filter label=app.kubernetes.io/part-of=fivestar --format '{{.Name}}')"
[[ -z "$left" ]] || die "pods left after kube down: $left"
ok "no pod, volume or network of the kube run left"
