#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write manifests for N TCPRoutes, shaped like what a cluster would hold, for the benchmarks.

    gen_routes.py N OUTDIR [--endpoints 10] [--per-file 0] [--shape lean|full]

OUTDIR gets namespaces.yaml, gateways.yaml (one GatewayClass and ceil(N/64) Gateways),
routes.yaml, services.yaml and slices.yaml. Route i lives in namespace team-G (G = i // 64),
attaches to listener l<i % 64> of Gateway gw-G there, and sends everything to Service svc-<i>
port 6000 ("tcp"), whose EndpointSlice lists ready pods on port 8080 (--shape full adds
the per-endpoint fields a real slice carries: nodeName, targetRef, serving, terminating).
Every listener has its own port (10000 + i), so no two listeners conflict and every route is
Accepted. Pod addresses are 10.x.y.z computed from (i, endpoint), all distinct. The output
depends only on the arguments. With --per-file K each kind is split into files of at most K objects
(routes-0000.yaml, ...), still read in the same order by `-f OUTDIR`.
"""

import argparse
import os
import sys

LISTENERS_PER_GATEWAY = 64  # Gateway API: spec.listeners MaxItems
FIRST_PORT = 10000
SERVICE_PORT = 6000
POD_PORT = 8080
CONTROLLER = "nftgate.io/agent"
CLASS = "nftgate"
SHAPES = ("lean", "full")
SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of generated k8s name suffixes


def ns_of(i):
    return "team-%04d" % (i // LISTENERS_PER_GATEWAY)


def suffix(i):
    """A stable 5-character suffix, as the slice controller's generateName would add."""
    x = (i * 2654435761 + 12345) & 0xFFFFFFFF
    out = []
    for _ in range(5):
        out.append(SUFFIX_CHARS[x % len(SUFFIX_CHARS)])
        x //= len(SUFFIX_CHARS)
    return "".join(out)


def pod_addr(i, j, per_route):
    # Host numbers from 1 so no address ends in .0 of the /8's first /24.
    p = i * per_route + j + 1
    return "10.%d.%d.%d" % ((p >> 16) & 255, (p >> 8) & 255, p & 255)


def namespace_doc(g):
    return ("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-%04d\n"
            "  labels:\n    team: t%04d\n" % (g, g))


def class_doc():
    return ("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n"
            "  name: %s\nspec:\n  controllerName: %s\n" % (CLASS, CONTROLLER))


def gateway_doc(g, n_listeners):
    head = ("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n"
            "  name: gw-%04d\n  namespace: team-%04d\nspec:\n  gatewayClassName: %s\n"
            "  listeners:\n" % (g, g, CLASS))
    base = g * LISTENERS_PER_GATEWAY
    ls = ["    - name: l%02d\n      protocol: TCP\n      port: %d\n"
          "      allowedRoutes:\n        kinds:\n          - kind: TCPRoute\n"
          % (k, FIRST_PORT + base + k) for k in range(n_listeners)]
    return head + "".join(ls)


def route_doc(i):
    return ("apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata:\n"
            "  name: route-%06d\n  namespace: %s\nspec:\n  parentRefs:\n"
            "    - name: gw-%04d\n      sectionName: l%02d\n  rules:\n    - backendRefs:\n"
            "        - name: svc-%06d\n          port: %d\n"
            % (i, ns_of(i), i // LISTENERS_PER_GATEWAY, i % LISTENERS_PER_GATEWAY, i,
               SERVICE_PORT))


def service_doc(i):
    return ("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%06d\n  namespace: %s\n"
            "spec:\n  selector:\n    app: app-%06d\n  ports:\n    - name: tcp\n"
            "      protocol: TCP\n      port: %d\n      targetPort: %d\n"
            % (i, ns_of(i), i, SERVICE_PORT, POD_PORT))


def slice_doc(i, per_route, shape="lean"):
    """lean: what the issue asks for (addresses and ready); full: every field the slice
    controller writes per endpoint (nodeName, targetRef, all three conditions), about twice
    the bytes, which the reader must parse and skip."""
    ns = ns_of(i)
    head = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
            "  name: svc-%06d-%s\n  namespace: %s\n  labels:\n"
            "    kubernetes.io/service-name: svc-%06d\n"
            "    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io\n"
            "addressType: IPv4\nports:\n  - name: tcp\n    protocol: TCP\n    port: %d\n"
            "endpoints:\n" % (i, suffix(i), ns, i, POD_PORT))
    if shape == "lean":
        eps = ["  - addresses: [\"%s\"]\n    conditions: {ready: true}\n"
               % pod_addr(i, j, per_route) for j in range(per_route)]
    else:
        eps = ["  - addresses: [\"%s\"]\n    conditions: {ready: true, serving: true, "
               "terminating: false}\n    nodeName: node-%d\n"
               "    targetRef: {kind: Pod, namespace: %s, name: app-%06d-%d}\n"
               % (pod_addr(i, j, per_route), (i + j) % 50, ns, i, j) for j in range(per_route)]
    return head + "".join(eps)


def write_docs(outdir, stem, docs, per_file):
    """Writes docs joined by '---' into stem.yaml, or stem-NNNN.yaml chunks of per_file."""
    chunks = [docs] if per_file <= 0 else [docs[k:k + per_file]
                                           for k in range(0, len(docs), per_file)] or [[]]
    names = []
    for c, chunk in enumerate(chunks):
        name = "%s.yaml" % stem if per_file <= 0 else "%s-%04d.yaml" % (stem, c)
        with open(os.path.join(outdir, name), "w", encoding="ascii") as f:
            f.write("---\n".join(chunk))
        names.append(name)
    return names


def generate(n, outdir, per_route=10, per_file=0, shape="lean"):
    """Writes the manifests for n routes into outdir (created if needed); returns file names."""
    if not 1 <= n <= 65535 - FIRST_PORT:
        raise ValueError("N must be 1..%d (one distinct port per listener)" % (65535 - FIRST_PORT))
    if shape not in SHAPES:
        raise ValueError("shape must be one of %s" % ", ".join(SHAPES))
    if not 1 <= per_route <= 1000 or n * per_route >= (1 << 24) - 1:
        raise ValueError("endpoints per route must be 1..1000 and N*endpoints < 2^24")
    os.makedirs(outdir, exist_ok=True)
    n_gw = (n + LISTENERS_PER_GATEWAY - 1) // LISTENERS_PER_GATEWAY
    names = []
    names += write_docs(outdir, "namespaces", [namespace_doc(g) for g in range(n_gw)], per_file)
    gws = [class_doc()] + [gateway_doc(g, min(LISTENERS_PER_GATEWAY,
                                               n - g * LISTENERS_PER_GATEWAY))
                           for g in range(n_gw)]
    names += write_docs(outdir, "gateways", gws, per_file)
    names += write_docs(outdir, "routes", [route_doc(i) for i in range(n)], per_file)
    names += write_docs(outdir, "services", [service_doc(i) for i in range(n)], per_file)
    names += write_docs(outdir, "slices", [slice_doc(i, per_route, shape) for i in range(n)],
                        per_file)
    return names


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of TCPRoutes (1..55535)")
    ap.add_argument("outdir")
    ap.add_argument("--endpoints", type=int, default=10, help="ready endpoints per Service")
    ap.add_argument("--per-file", type=int, default=0,
                    help="split each kind into files of at most this many objects (0: one file)")
    ap.add_argument("--shape", choices=SHAPES, default="lean",
                    help="endpoint fields: lean (addresses, ready) or full (as the slice "
                    "controller writes them)")
    a = ap.parse_args(argv)
    try:
        generate(a.n, a.outdir, a.endpoints, a.per_file, a.shape)
    except (ValueError, OSError) as e:
        print("gen_routes: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
