#!/usr/bin/env bash
# Renders every kustomization (kubectl kustomize, offline), validates the result against the
# Kubernetes schemas (kubernetes-validate, offline, strict), and checks the properties the
# deployment depends on (check.py, which first proves it catches each one broken).
set -euo pipefail
cd "$(dirname "$0")"
command -v kubectl >/dev/null || { echo "kubectl is needed to render the manifests" >&2; exit 1; }
venv=${KUBE_VENV:-/tmp/clickstream-kube}
[ -x "$venv/bin/kubernetes-validate" ] || { python3 -m venv "$venv" >/dev/null && "$venv/bin/pip" install -q kubernetes-validate; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dir in base overlays/*/; do
  dir=${dir%/}
  file="$out/$(echo "$dir" | tr / -).yaml"
  kubectl kustomize "$dir" >"$file"
  echo "== $dir: $(grep -c '^kind:' "$file") resources"
  # The ServiceMonitor is a custom resource: its schema is not Kubernetes', so
  # kubernetes-validate warns and check.py checks it instead.
  "$venv/bin/kubernetes-validate" --strict --quiet "$file"
  flags=(--self-test)
  [ "$dir" != base ] && flags+=(--overlay)
  "$venv/bin/python" check.py "${flags[@]}" "$file"
done
