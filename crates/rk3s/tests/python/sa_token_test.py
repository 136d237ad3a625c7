"""Python-client test: a ServiceAccount token (TokenRequest) authenticates as the service account.

Usage: python3 sa_token_test.py KUBECONFIG
Until RBAC arrives the service account is refused with 403 for resources; authentication itself
must succeed (403, not 401), and whoami must name the service account.
"""
import sys

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
