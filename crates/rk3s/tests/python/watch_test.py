"""Python-client watch test: run by crates/rk3s/tests/python_client.rs against a live rk3s.

Usage: python3 watch_test.py KUBECONFIG
Creates, updates and deletes configmaps while a kubernetes.watch.Watch streams them, and checks
that every event arrives, in order, with increasing resourceVersions.
"""
import sys
import threading
import time

from kubernetes import client, config, watch


def main(kubeconfig: str) -> int:
    config.load_kube_config(config_file=kubeconfig)
    v1 = client.CoreV1Api()
    ns = "default"
    start = v1.list_namespaced_config_map(ns)
    rv = start.metadata.resource_version
    events = []
    done = threading.Event()

    def watcher():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20):
            name = ev["object"].metadata.name
            if not name.startswith("py-"):
                continue
            events.append((ev["type"], name, int(ev["object"].metadata.resource_version)))
            if ev["type"] == "DELETED" and name == "py-2":
                w.stop()
        done.set()

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.5)
    for i in range(3):
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"py-{i}"), data={"i": str(i)}))
    v1.patch_namespaced_config_map("py-0", ns, {"data": {"i": "changed"}})
    for i in range(3):
        v1.delete_namespaced_config_map(f"py-{i}", ns)
    if not done.wait(25):
        print("watch did not finish; events so far:", events)
        return 1
    expected = [("ADDED", "py-0"), ("ADDED", "py-1"), ("ADDED", "py-2"), ("MODIFIED", "py-0"),
                ("DELETED", "py-0"), ("DELETED", "py-1"), ("DELETED", "py-2")]
    got = [(t, n) for t, n, _ in events]
    if got != expected:
        print("unexpected events:", got)
        return 1
    rvs = [r for _, _, r in events]
    if rvs != sorted(rvs) or len(set(rvs)) != len(rvs):
        print("resourceVersions not strictly increasing:", rvs)
        return 1
    # Listing with the Python client's typed models works too.
    cms = v1.list_namespaced_config_map(ns, label_selector="nothing=here")
    if cms.items:
        print("label selector matched unexpected objects")
        return 1
    print("ok", len(events), "events")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
