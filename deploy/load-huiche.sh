#!/bin/sh
# The one-shot loader of the Huiche sample data (回车镇, 西峡县: 30 regions,
# 193 tasks, indicators of 2022-09) in the fivestar-tools image. Waits for
# the registry and project tracking to be SERVING, then imports the
# registry, the projects and the indicators. Every step is idempotent, so a
# second run changes nothing.
#
# Environment: FIVESTAR_TOKEN, an admin token of both services (without it
# the loader loads nothing and exits 0, so the stack can run without the
# sample data); FIVESTAR_REGISTRY and FIVESTAR_PROJECTS, their addresses;
# FIVESTAR_LOAD_WAIT, how long to wait for them (default 120s).
set -eu
DATA=/usr/share/fivestar/huiche
if [ -z "${FIVESTAR_TOKEN:-}" ]; then
  echo "load-huiche: FIVESTAR_TOKEN is not set: nothing loaded"
  exit 0
fi
wait="${FIVESTAR_LOAD_WAIT:-120s}"
echo "load-huiche: waiting up to $wait for $FIVESTAR_REGISTRY and $FIVESTAR_PROJECTS"
fivestar --deadline=2s health --wait="$wait" "$FIVESTAR_REGISTRY" \
  fivestar.registry.v1.RegistryService
fivestar --deadline=2s health --wait="$wait" "$FIVESTAR_PROJECTS" \
  fivestar.projects.v1.ProjectsService
echo "load-huiche: import-registry"
fivestar import-registry "$DATA/registry.ndjson"
echo "load-huiche: import-projects"
fivestar import-projects "$DATA/projects.ndjson"
echo "load-huiche: set-indicators"
fivestar set-indicators "$DATA/indicators.ndjson"
echo "load-huiche: done"
