#!/usr/bin/env python3
"""Checks the rendered manifests for the properties the deployment depends on, so a later
edit cannot drop one silently: probes on the service's real routes and port, no root, a
read-only root filesystem, dropped capabilities, rollouts that keep capacity, draining
before stop, resources, spread, scaling, disruption budget, secrets by reference, scrape
annotations, and (in overlays) a ServiceMonitor that selects the Service and the two
CronJobs: retraining into the models volume and scoring a day's file (never two runs at
once, no root, read-only root filesystem with an emptyDir for temporary files, resources,
deadlines, volumes read-only except what the job writes, a ReadWriteMany models volume).

Usage: check.py RENDERED.yaml [--overlay]     (kubectl kustomize DIR > RENDERED.yaml)
       check.py --self-test RENDERED.yaml     (breaks each property in turn: each is caught)
Needs PyYAML. Reads openapi/openapi.json and Dockerfile from the repository root.
"""
import copy
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def routes():
    doc = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    return {path for path, item in doc["paths"].items() if "get" in item}


def dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    runtime = text.split("AS runtime", 1)[1]
    user = re.search(r"^USER\s+(\d+)", runtime, re.M)
    expose = re.search(r"^EXPOSE\s+(\d+)", runtime, re.M)
    return int(user.group(1)), int(expose.group(1))


def problems(docs, overlay):
    found = []
    need = lambda ok, what: ok or found.append(what)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    get_routes = routes()
    image_user, image_port = dockerfile()

    deployments = by_kind.get("Deployment", [])
    need(len(deployments) == 1, "exactly one Deployment")
    if not deployments:
        return found
    dep = deployments[0]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"].get("labels", {})
    need(spec.get("replicas", 1) >= 3, "at least 3 replicas")
    rolling = spec.get("strategy", {}).get("rollingUpdate", {})
    need(spec.get("strategy", {}).get("type") == "RollingUpdate" and rolling.get("maxUnavailable") == 0,
         "rolling update with maxUnavailable 0")
    selector = spec["selector"]["matchLabels"]
    need(all(pod_labels.get(k) == v for k, v in selector.items()), "the selector matches the pod labels")

    pod_sc = pod.get("securityContext", {})
    need(pod_sc.get("runAsNonRoot") is True, "runAsNonRoot")
    need(pod_sc.get("runAsUser", 0) != 0, "a non-zero runAsUser")
    need(pod_sc.get("runAsUser") == image_user, f"runAsUser equals the image's USER {image_user}")
    need(pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
    need(bool(pod.get("topologySpreadConstraints")), "topology spread over nodes")
    grace = pod.get("terminationGracePeriodSeconds", 30)

    containers = pod.get("containers", [])
    need(len(containers) == 1, "one container")
    c = containers[0]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    config_maps = {m["metadata"]["name"]: m.get("data", {}) for m in by_kind.get("ConfigMap", [])}
    env = {}
    for source in c.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        need(name in config_maps, f"the ConfigMap {name} the container reads exists")
        env.update(config_maps.get(name, {}))
    port = int(env.get("PORT", 8080))
    need(port in ports.values(), f"a container port is the service's PORT {port}")
    need(port == image_port, f"PORT equals the image's EXPOSE {image_port}")

    def probe(kind, path):
        p = c.get(kind)
        if not p:
            found.append(f"{kind} is missing")
            return
        get = p.get("httpGet", {})
        need(get.get("path") == path, f"{kind} asks {path}")
        need(get.get("path") in get_routes, f"{kind} path {get.get('path')} is a route of the API")
        target = get.get("port")
        number = ports.get(target, target)
        need(number == port, f"{kind} port {target} is the service's port {port}")

    probe("startupProbe", "/readyz")
    probe("readinessProbe", "/readyz")
    probe("livenessProbe", "/livez")

    sc = c.get("securityContext", {})
    need(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
    need(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
    need(sc.get("capabilities", {}).get("drop") == ["ALL"], "all capabilities dropped")
    need(sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, "the container is not root")

    res = c.get("resources", {})
    need(bool(res.get("requests", {}).get("memory")) and bool(res.get("requests", {}).get("cpu")),
         "CPU and memory requests")
    need(bool(res.get("limits", {}).get("memory")), "a memory limit")

    stop = c.get("lifecycle", {}).get("preStop", {})
    sleep = stop.get("sleep", {}).get("seconds")
    need(sleep is not None and 0 < sleep < grace, "a short preStop sleep inside the grace period")

    secret_env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in c.get("env", [])}
    for name in ("ADMIN_TOKEN", "API_KEYS"):
        need(bool(secret_env.get(name)), f"{name} comes from a Secret reference")
        need(name not in env, f"{name} is not in a ConfigMap")

    ann = spec["template"]["metadata"].get("annotations", {})
    need(ann.get("prometheus.io/scrape") == "true", "Prometheus scrape annotation")
    need(ann.get("prometheus.io/path") in get_routes, "the scrape path is a route")
    need(int(ann.get("prometheus.io/port", 0)) == port, "the scrape port is the service's port")

    services = by_kind.get("Service", [])
    need(len(services) == 1, "one Service")
    for s in services:
        need(all(pod_labels.get(k) == v for k, v in s["spec"]["selector"].items()),
             "the Service selects the pods")
        for p in s["spec"]["ports"]:
            target = p.get("targetPort")
            need(ports.get(target, target) == port, "the Service targets the service's port")

    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    need(len(hpas) == 1, "one HorizontalPodAutoscaler")
    for h in hpas:
        ref = h["spec"]["scaleTargetRef"]
        need(ref["kind"] == "Deployment" and ref["name"] == dep["metadata"]["name"], "the HPA scales the Deployment")
        need(any(m.get("resource", {}).get("name") == "cpu" for m in h["spec"].get("metrics", [])), "the HPA scales on CPU")
        need(h["spec"].get("minReplicas", 1) >= 3, "the HPA keeps at least 3 replicas")

    pdbs = by_kind.get("PodDisruptionBudget", [])
    need(len(pdbs) == 1, "one PodDisruptionBudget")
    for b in pdbs:
        need(all(pod_labels.get(k) == v for k, v in b["spec"]["selector"]["matchLabels"].items()),
             "the PodDisruptionBudget selects the pods")

    if overlay:
        monitors = by_kind.get("ServiceMonitor", [])
        need(len(monitors) == 1, "a ServiceMonitor in the overlay")
        for m in monitors:
            labels = services[0]["metadata"].get("labels", {}) if services else {}
            need(all(labels.get(k) == v for k, v in m["spec"]["selector"]["matchLabels"].items()),
                 "the ServiceMonitor selects the Service")
            names = {p.get("name") for p in services[0]["spec"]["ports"]} if services else set()
            need(all(e.get("port") in names and e.get("path") in get_routes for e in m["spec"]["endpoints"]),
                 "the ServiceMonitor scrapes a Service port and a real path")
        found.extend(cronjob_problems(by_kind, image_user))
    return found


def cronjob_problems(by_kind, image_user):
    found = []
    need = lambda ok, what: ok or found.append(what)
    claims = {c["metadata"]["name"]: c for c in by_kind.get("PersistentVolumeClaim", [])}
    jobs = {}
    for job in by_kind.get("CronJob", []):
        c = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        jobs[(c[0].get("args") or ["?"])[0] if c else "?"] = job
    need(set(jobs) == {"train", "score"}, "two CronJobs in the overlay: one runs train, one score")
    for command, job in jobs.items():
        name = f"the {command} CronJob"
        spec = job["spec"]
        need(spec.get("concurrencyPolicy") == "Forbid", f"{name}: concurrencyPolicy Forbid")
        need(bool(spec.get("startingDeadlineSeconds")), f"{name}: a startingDeadlineSeconds")
        run = spec["jobTemplate"]["spec"]
        need(bool(run.get("activeDeadlineSeconds")), f"{name}: an activeDeadlineSeconds")
        need(run.get("backoffLimit", 6) <= 2, f"{name}: a backoffLimit of at most 2")
        pod = run["template"]["spec"]
        need(pod.get("restartPolicy") in ("Never", "OnFailure"), f"{name}: restartPolicy Never or OnFailure")
        pod_sc = pod.get("securityContext", {})
        need(pod_sc.get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
        need(pod_sc.get("runAsUser") == image_user, f"{name}: runAsUser equals the image's USER {image_user}")
        need(pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccomp RuntimeDefault")
        need(pod.get("automountServiceAccountToken") is False, f"{name}: no service account token")
        containers = pod.get("containers", [])
        need(len(containers) == 1, f"{name}: one container")
        if not containers:
            continue
        c = containers[0]
        sc = c.get("securityContext", {})
        need(sc.get("readOnlyRootFilesystem") is True, f"{name}: read-only root filesystem")
        need(sc.get("allowPrivilegeEscalation") is False, f"{name}: no privilege escalation")
        need(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: all capabilities dropped")
        need(sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, f"{name}: not root")
        res = c.get("resources", {})
        need(bool(res.get("requests", {}).get("memory")) and bool(res.get("requests", {}).get("cpu")),
             f"{name}: CPU and memory requests")
        need(bool(res.get("limits", {}).get("memory")), f"{name}: a memory limit")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        tmp = mounts.get("/tmp")
        need(tmp is not None and "emptyDir" in volumes.get(tmp["name"], {}) and
             volumes[tmp["name"]]["emptyDir"].get("sizeLimit"),
             f"{name}: an emptyDir with a sizeLimit at /tmp for spills")
        args = c.get("args", [])
        value = lambda flag: args[args.index(flag) + 1] if flag in args[:-1] else None
        def writable(path):
            """The mount holding `path`, whether it is writable, and its claim."""
            best = max((m for m in mounts if path and (path + "/").startswith(m.rstrip("/") + "/")),
                       key=len, default=None)
            if best is None:
                return None, False, None
            m = mounts[best]
            claim = volumes.get(m["name"], {}).get("persistentVolumeClaim", {})
            return best, not m.get("readOnly") and not claim.get("readOnly"), claim.get("claimName")
        data_mount, data_writable, _ = writable(value("--data"))
        need(data_mount is not None and not data_writable, f"{name}: --data is on a read-only volume")
        need(value("--models") is not None, f"{name}: --models names the models volume")
        models_mount, models_writable, models_claim = writable(value("--models"))
        if command == "train":
            need(models_writable, f"{name}: --models on a writable volume")
            modes = claims.get(models_claim, {}).get("spec", {}).get("accessModes", [])
            need("ReadWriteMany" in modes, f"{name}: the models claim is ReadWriteMany (pods on other nodes read it)")
        else:
            need(models_mount is not None and not models_writable, f"{name}: --models on a read-only volume")
            out_mount, out_writable, _ = writable(value("--out"))
            need(out_mount is not None and out_writable, f"{name}: --out on a writable volume")
            need("--no-formula-guard" not in args, f"{name}: the output stays spreadsheet-safe")
    return found


def job_breakages():
    """The CronJobs' careless edits (overlays only), as for the Deployment's."""
    def find(command):
        def edit(docs):
            for d in docs:
                if d["kind"] == "CronJob" and d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0] == command:
                    return d
        return edit

    def pod(d):
        return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]

    def container(d):
        return pod(d)["containers"][0]

    return [
        ("two trainings at once", "train", lambda d: d["spec"].update(concurrencyPolicy="Allow")),
        ("a scoring job as root", "score", lambda d: pod(d)["securityContext"].update(runAsUser=0)),
        ("a writable root filesystem in training", "train", lambda d: container(d)["securityContext"].update(readOnlyRootFilesystem=False)),
        ("no emptyDir for spills", "train", lambda d: pod(d)["volumes"].pop()),
        ("no memory limit on scoring", "score", lambda d: container(d)["resources"].pop("limits")),
        ("training into a read-only models mount", "train",
         lambda d: [m.update(readOnly=True) for m in container(d)["volumeMounts"] if m["name"] == "models"]),
        ("scoring without the formula guard", "score", lambda d: container(d)["args"].append("--no-formula-guard")),
        ("no deadline", "score", lambda d: d["spec"]["jobTemplate"]["spec"].pop("activeDeadlineSeconds")),
    ], find


def breakages():
    """Each edit a careless change might make, and a word on it."""
    def pod(d):
        return d["spec"]["template"]["spec"]

    def container(d):
        return pod(d)["containers"][0]

    return [
        ("liveness on a route that does not exist", lambda d: container(d)["livenessProbe"]["httpGet"].update(path="/healthz")),
        ("readiness on another port", lambda d: container(d)["readinessProbe"]["httpGet"].update(port=9090)),
        ("root", lambda d: pod(d)["securityContext"].update(runAsUser=0)),
        ("writable root filesystem", lambda d: container(d)["securityContext"].pop("readOnlyRootFilesystem")),
        ("capabilities kept", lambda d: container(d)["securityContext"].pop("capabilities")),
        ("capacity drops in a rollout", lambda d: d["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1)),
        ("no preStop", lambda d: container(d).pop("lifecycle")),
        ("no memory limit", lambda d: container(d)["resources"].pop("limits")),
        ("a secret in plain env", lambda d: container(d)["env"].__setitem__(0, {"name": "ADMIN_TOKEN", "value": "x"})),
        ("no spread", lambda d: pod(d).pop("topologySpreadConstraints")),
    ]


def main(argv):
    self_test = "--self-test" in argv
    overlay = "--overlay" in argv
    files = [a for a in argv if not a.startswith("--")]
    docs = [d for d in yaml.safe_load_all(pathlib.Path(files[0]).read_text()) if d]
    found = problems(docs, overlay)
    if found:
        print("\n".join(f"FAIL: {p}" for p in found))
        return 1
    if self_test:
        missed = []
        for what, edit in breakages():
            broken = copy.deepcopy(docs)
            edit(next(d for d in broken if d["kind"] == "Deployment"))
            if not problems(broken, overlay):
                missed.append(what)
        caught = len(breakages())
        if overlay:
            edits, find = job_breakages()
            for what, command, edit in edits:
                broken = copy.deepcopy(docs)
                edit(find(command)(broken))
                if not problems(broken, overlay):
                    missed.append(what)
            # The models volume that the pods on other nodes must read while the job writes.
            broken = copy.deepcopy(docs)
            for d in broken:
                if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == "clickstream-models":
                    d["spec"]["accessModes"] = ["ReadWriteOnce"]
            if not problems(broken, overlay):
                missed.append("a ReadWriteOnce models volume")
            caught += len(edits) + 1
        if missed:
            print("the check missed: " + ", ".join(missed))
            return 1
        print(f"self-test: all {caught} breakages caught")
    print(f"{files[0]}: {len(docs)} resources, every property holds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
