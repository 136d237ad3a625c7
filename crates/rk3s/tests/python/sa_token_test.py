"""Python-client test: a ServiceAccount token (TokenRequest) authenticates as the service account.

Usage: python3 sa_token_test.py KUBECONFIG
The service account, bound to the `view` ClusterRole in `default`, can list pods and gets 403
creating one; before the binding it cannot even list them.
"""
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException


def main(kubeconfig: str) -> int:
    config.load_kube_config(config_file=kubeconfig)
    admin = client.CoreV1Api()
    admin.create_namespaced_service_account("default", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader")))
    tr = admin.create_namespaced_service_account_token(
        "reader", "default", client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)))
    token = tr.status.token
    if not token or token.count(".") != 2:
        print("not a JWT:", token)
        return 1
    cfg = client.Configuration()
    base = client.Configuration.get_default_copy()
    cfg.host = base.host
    cfg.ssl_ca_cert = base.ssl_ca_cert
    cfg.api_key = {"authorization": "Bearer " + token}
    sa_client = client.ApiClient(cfg)
    review = client.AuthenticationV1Api(sa_client).create_self_subject_review(client.V1SelfSubjectReview())
    if review.status.user_info.username != "system:serviceaccount:default:reader":
        print("whoami:", review.status.user_info)
        return 1
    groups = review.status.user_info.groups
    if "system:serviceaccounts" not in groups or "system:serviceaccounts:default" not in groups:
        print("groups:", groups)
        return 1
    sa_core = client.CoreV1Api(sa_client)
    try:
        sa_core.list_namespaced_pod("default")
        print("listing pods allowed before any binding")
        return 1
    except ApiException as e:
        if e.status != 403:
            print("expected 403 before the binding, got", e.status)
            return 1
    client.RbacAuthorizationV1Api().create_namespaced_role_binding("default", client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="reader-view"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="view"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace="default")]))
    deadline = time.time() + 5
    while True:
        try:
            sa_core.list_namespaced_pod("default")
            break
        except ApiException as e:
            if e.status != 403 or time.time() > deadline:
                print("listing pods after the binding:", e.status, e.body)
                return 1
            time.sleep(0.1)
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="nope"),
                       spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
    try:
        sa_core.create_namespaced_pod("default", pod)
        print("view may not create pods, but it did")
        return 1
    except ApiException as e:
        if e.status != 403 or "cannot create resource" not in e.body:
            print("creating a pod: expected 403, got", e.status, e.body)
            return 1
    # Other namespaces stay closed.
    try:
        sa_core.list_namespaced_pod("kube-system")
        print("the binding leaked into kube-system")
        return 1
    except ApiException as e:
        if e.status != 403:
            print("kube-system: expected 403, got", e.status)
            return 1
    # A wrong token is 401.
    bad = client.Configuration()
    bad.host = base.host
    bad.ssl_ca_cert = base.ssl_ca_cert
    bad.api_key = {"authorization": "Bearer " + token[:-4] + "AAAA"}
    try:
        client.CoreV1Api(client.ApiClient(bad)).list_namespaced_pod("default")
        print("tampered token accepted")
        return 1
    except ApiException as e:
        if e.status != 401:
            print("tampered token: expected 401, got", e.status)
            return 1
    # TokenReview by the admin.
    rv = client.AuthenticationV1Api().create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token)))
    if not rv.status.authenticated or rv.status.user.username != "system:serviceaccount:default:reader":
        print("token review:", rv.status)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
