/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the API server is and how to authenticate to it: a kubeconfig file (--kubeconfig) or
 * the in-cluster service account (--in-cluster). Only the fields a node agent needs are read
 * (docs/kubernetes.md, "Connecting"): the current context's cluster (server,
 * certificate-authority[-data], insecure-skip-tls-verify) and user (token, tokenFile,
 * client-certificate[-data], client-key[-data]). Relative paths are relative to the
 * kubeconfig's directory. A token file is re-read when it changes (bound tokens rotate).
 */
#ifndef NFTGATE_AGENT_KUBE_CONFIG_H
#define NFTGATE_AGENT_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The in-cluster service-account directory (token, ca.crt, namespace). */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
	char *source;        /* for messages: "kubeconfig /etc/nftgate/kubeconfig", "in-cluster" */
	char *server;        /* "https://10.0.0.1:6443", no trailing slash */
	char *ca_file;       /* PEM bundle path, or NULL */
	char *ca_data;       /* PEM bytes (decoded certificate-authority-data), or NULL */
	size_t ca_len;
	char *cert_file, *key_file;  /* client certificate, or NULL */
	char *cert_data, *key_data;  /* PEM bytes, or NULL */
	size_t cert_len, key_len;
	bool insecure;       /* insecure-skip-tls-verify */
	char *namespace;     /* the context's namespace, or the service account's; NULL: none */
	char *token;         /* the bearer token to send (trailing whitespace stripped), or NULL */
	char *token_file;    /* where token comes from and is re-read, or NULL */
	struct stat token_id; /* identity of token_file's content when last read */
	uint64_t token_read_ns; /* CLOCK_MONOTONIC of that read */
};

/* Reads kubeconfig `path`. On failure returns -errno and writes a message naming the file (and
 * its line, for YAML errors, and the missing field) into err. */
int kube_config_load(const char *path, struct kube_config **ret, char *err, size_t errlen);

/* The in-cluster configuration: server from KUBERNETES_SERVICE_HOST/PORT (an IPv6 host in
 * brackets), token, ca.crt and namespace from sa_dir (KUBE_SA_DIR in the product). */
int kube_config_in_cluster(const char *sa_dir, struct kube_config **ret, char *err, size_t errlen);

/* Re-reads token_file when `force` (after a 401), when it changed (device, inode, size,
 * mtime) or when a minute has passed since the last read; keeps the old token if the read
 * fails. Returns 1 when the token changed, 0 when not, -errno (err says why) on failure. A
 * config without token_file: always 0. */
int kube_config_refresh_token(struct kube_config *c, bool force, char *err, size_t errlen);

/* Accepts NULL; returns NULL. */
struct kube_config *kube_config_free(struct kube_config *c);

#endif
