/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service, EndpointSlice and Namespace: the API server's defaults and the validation that
 * matters to a data plane (reference/kubernetes-api.md §6).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model/decode.h"
#include "model/validate.h"

#define WHAT_PORT_NAME "a valid port name (RFC 1123 label: lowercase letters, digits and '-', " \
		       "1..63 characters)"
#define SERVICE_NAME_LABEL "kubernetes.io/service-name"
#define NAMESPACE_NAME_LABEL "kubernetes.io/metadata.name"

static bool valid_l4_protocol(const char *s)
{
	return !strcmp(s, "TCP") || !strcmp(s, "UDP") || !strcmp(s, "SCTP");
}

static bool valid_service_type(const char *s)
{
	return !strcmp(s, "ClusterIP") || !strcmp(s, "NodePort") || !strcmp(s, "LoadBalancer") ||
	       !strcmp(s, "ExternalName");
}

static bool valid_port_name(const char *s)
{
	return s[0] == '\0' || valid_dns1123_label(s);
}

/* IANA service name, the API server's rule for a named targetPort: 1..15 of [-a-z0-9], at
 * least one letter, no '-' at either end and no "--". */
static bool valid_iana_svc_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

/* ExternalName: a DNS subdomain, a trailing dot allowed (ValidateService). */
static bool valid_external_name(const char *s)
{
	size_t n = strlen(s);
	char buf[256];

	if (n == 0 || n > 254)
		return false;
	if (s[n - 1] == '.')
		n--;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return valid_dns1123_subdomain(buf);
}

/* targetPort is an int-or-string, typed by how it is written: a plain number is a port
 * (0 means "the same as port", the API server's default), anything else a port name. */
static int check_target_port(struct dec *x, const struct ynode *m, const char *f)
{
	const struct ynode *n = ymap_get(m, "targetPort");
	char ft[FIELD_MAX], q[128];
	int64_t v;

	if (ynode_is_null(n))
		return 0;
	field_key(ft, f, "targetPort");
	if (n->type != YN_SCALAR)
		return dec_type_err(x, n, ft, "a port number or a port name");
	if (n->plain && (n->str[0] == '-' || n->str[0] == '+' || (n->str[0] >= '0' && n->str[0] <= '9')))
		return dec_int(x, m, "targetPort", f, 0, 65535, false, &v);
	if (valid_iana_svc_name(n->str))
		return 0;
	return dec_err(x, n, ft, "%s is not a port number (1..65535) nor a valid port name (at most 15 "
		       "lowercase letters, digits and '-', with a letter, no '-' at either end or twice "
		       "in a row)", diag_quote(q, sizeof(q), n->str, n->len));
}

static int decode_service_port(struct dec *x, const struct ynode *m, const char *f, size_t i,
			       void *elem, void *ctx)
{
	struct service_port *p = elem;
	int64_t port = 0;
	int r;

	if ((r = dec_str_checked(x, m, "name", f, false, valid_port_name, WHAT_PORT_NAME,
				 &p->name)) < 0 ||
	    (r = dec_str_checked(x, m, "protocol", f, false, valid_l4_protocol,
				 "one of TCP, UDP, SCTP", &p->protocol)) < 0 ||
	    (r = check_target_port(x, m, f)) < 0 ||
	    (r = dec_int(x, m, "port", f, 1, 65535, true, &port)) < 0)
		return r;
	p->port = (uint16_t)port;
	/* a name already reported as bad stays NULL, so it is not also reported as missing */
	if ((!dec_has(m, "name") && dec_default(&p->name, "") < 0) ||
	    dec_default(&p->protocol, "TCP") < 0)
		return -ENOMEM;
	return 0;
}

/* ValidateService: ports are required unless the Service is headless (clusterIP: None) or
 * ExternalName; an ExternalName Service needs spec.externalName. */
static int check_service_spec(struct dec *x, const struct ynode *root, const struct ynode *spec,
			      const struct ynode *ports, const struct service *s)
{
	char *cip = NULL, *ext = NULL;
	bool external = s->type && !strcmp(s->type, "ExternalName");
	int r;

	if (spec && dec_str(x, spec, "clusterIP", "spec", &cip) < 0)
		return -ENOMEM;
	r = spec ? dec_str_checked(x, spec, "externalName", "spec", external, valid_external_name,
				   "a valid DNS name (lowercase RFC 1123 subdomain, an optional "
				   "trailing '.')", &ext) : 0;
	if (r == 0 && !spec && external)
		r = dec_required(x, root, "spec.externalName");
	/* without spec, the object's own line: every error is located */
	if (r == 0 && !external && !(cip && !strcmp(cip, "None")) && (!ports || !ports->n))
		r = dec_err(x, ports ? ports : spec ? spec : root, "spec.ports",
			    "is required (at least one port) unless the Service is headless "
			    "(clusterIP: None) or of type ExternalName");
	free(cip);
	free(ext);
	return r;
}

/* A named Service port and its index, for the uniqueness checks. */
struct port_ref {
	const struct service_port *p;
	size_t i;
};

static int cmp_port_name(const void *a, const void *b)
{
	const struct port_ref *x = a, *y = b;
	int c = strcmp(x->p->name, y->p->name);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int cmp_port_number(const void *a, const void *b)
{
	const struct port_ref *x = a, *y = b;
	int c = (x->p->port > y->p->port) - (x->p->port < y->p->port);

	if (!c)
		c = strcmp(x->p->protocol, y->p->protocol);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Sorted by cmp, equal neighbours are duplicates: each is reported against the first use.
 * Sorting keeps this O(n log n): the API server sets no maximum on Service ports. */
static int report_port_duplicates(struct dec *x, const struct ynode *seq, const char *f,
				  struct port_ref *v, size_t n, bool by_name)
{
	char fi[FIELD_MAX], fn[FIELD_MAX], q[128];
	size_t first = 0;
	int r = 0;

	qsort(v, n, sizeof(*v), by_name ? cmp_port_name : cmp_port_number);
	for (size_t k = 1; k < n; k++) {
		const struct service_port *a = v[k].p, *b = v[first].p;

		if (by_name ? strcmp(a->name, b->name) != 0 :
			      a->port != b->port || strcmp(a->protocol, b->protocol) != 0) {
			first = k;
			continue;
		}
		field_idx(fi, f, v[k].i);
		if (by_name)
			r = dec_err(x, seq->kids[v[k].i], field_key(fn, fi, "name"),
				    "%s is used twice (also %s[%zu]); port names must be unique",
				    diag_quote(q, sizeof(q), a->name, strlen(a->name)), f, v[first].i);
		else
			r = dec_err(x, seq->kids[v[k].i], fi, "port %u/%s is listed twice (also %s[%zu])",
				    a->port, a->protocol, f, v[first].i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* More than one port: every one named, names unique, (port, protocol) unique. */
static int check_service_ports(struct dec *x, const struct ynode *seq, const char *f,
			       const struct service *s)
{
	char fi[FIELD_MAX], fn[FIELD_MAX];
	struct port_ref *v;
	size_t n = 0;
	int r = 0;

	if (s->n_ports < 2)
		return 0;
	v = malloc(s->n_ports * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct service_port *a = &s->ports[i];

		if (!a->name || !a->protocol)
			continue;
		if (a->name[0]) {
			v[n++] = (struct port_ref){ a, i };
			continue;
		}
		r = dec_err(x, seq->kids[i], field_key(fn, field_idx(fi, f, i), "name"),
			    "is required when a Service has more than one port");
		if (r < 0)
			goto out;
	}
	r = report_port_duplicates(x, seq, f, v, n, true);
	if (r == 0)
		r = report_port_duplicates(x, seq, f, v, n, false);
out:
	free(v);
	return r;
}

int decode_service(struct dec *x, const struct ynode *root, struct service *out)
{
	const struct ynode *spec, *seq = NULL;
	const char *f = "spec.ports";
	int r = dec_map(x, root, "spec", "", false, &spec);

	if (r < 0 || (!spec && dec_has(root, "spec")))
		return r; /* out of memory, or not a mapping (reported) */
	if (spec && dec_str_checked(x, spec, "type", "spec", false, valid_service_type,
				    "one of ClusterIP, NodePort, LoadBalancer, ExternalName",
				    &out->type) < 0)
		return -ENOMEM;
	if (dec_default(&out->type, "ClusterIP") < 0)
		return -ENOMEM;
	if (spec && ((r = dec_seq(x, spec, "ports", "spec", false, &seq)) < 0 ||
		     (!seq && dec_has(spec, "ports"))))
		return r; /* out of memory, or not a list (reported) */
	if ((r = check_service_spec(x, root, spec, seq, out)) < 0 || !seq)
		return r;
	out->ports = calloc_array(seq->n, sizeof(*out->ports));
	/* aligned with the input for the uniqueness messages */
	r = dec_list_items(x, seq, f, DEC_LIST_ALIGNED, out->ports, sizeof(*out->ports), &out->n_ports,
			   decode_service_port, NULL);
	if (r < 0)
		return r;
	return check_service_ports(x, seq, f, out);
}

/* ctx: the slice, whose earlier ports this one's name must differ from */
static int decode_slice_port(struct dec *x, const struct ynode *m, const char *f, size_t i,
			     void *elem, void *ctx)
{
	const struct endpoint_slice *e = ctx;
	struct slice_port *p = elem;
	char fn[FIELD_MAX], q[128];
	int64_t port = -1;
	int r;

	if ((r = dec_str_checked(x, m, "name", f, false, valid_port_name, WHAT_PORT_NAME,
				 &p->name)) < 0 ||
	    (r = dec_str_checked(x, m, "protocol", f, false, valid_l4_protocol,
				 "one of TCP, UDP, SCTP", &p->protocol)) < 0 ||
	    (r = dec_int(x, m, "port", f, 0, 65535, false, &port)) < 0)
		return r;
	p->port = (int32_t)port; /* -1: absent, "all ports" */
	if (dec_default(&p->name, "") < 0 || dec_default(&p->protocol, "TCP") < 0)
		return -ENOMEM;
	for (size_t j = 0; e->ports[i].name && j + 1 < e->n_ports; j++)
		if (e->ports[j].name && strcmp(e->ports[j].name, e->ports[i].name) == 0 &&
		    (r = dec_err(x, m, field_key(fn, f, "name"),
				 "%s is used twice (also ports[%zu]); port names must be unique",
				 diag_quote(q, sizeof(q), e->ports[i].name, strlen(e->ports[i].name)),
				 j)) < 0)
			return r;
	return 0;
}

static int decode_slice_ports(struct dec *x, const struct ynode *root, struct endpoint_slice *e)
{
	const struct ynode *seq;
	char f[FIELD_MAX];
	int r = dec_list_open(x, root, "", "ports", false, 0, 100, f, &seq);

	if (r < 0 || !seq)
		return r;
	e->ports = calloc_array(seq->n, sizeof(*e->ports));
	/* aligned with the input: the uniqueness check compares by input index */
	return dec_list_items(x, seq, f, DEC_LIST_ALIGNED, e->ports, sizeof(*e->ports), &e->n_ports,
			      decode_slice_port, e);
}

/* The slice's addressType, for its endpoints' addresses. type_ok false: it was bad (already
 * reported), so addresses are not checked against it, but everything else still is, so that
 * every error is reported. */
struct endpoint_ctx {
	enum address_type t;
	bool type_ok;
};

/* An address of a slice of type t, at node n (field f): of that family, and for IP slices
 * not one the API server refuses as an endpoint (endpoint_address_refusal(): loopback,
 * link-local, ...), since DNAT to such an address reaches the node itself. */
static int check_endpoint_address(struct dec *x, const struct ynode *n, const char *f,
				  enum address_type t, const char *a)
{
	const char *why;
	char q[128];

	diag_quote(q, sizeof(q), a, strlen(a));
	if (t == ADDR_FQDN)
		return valid_dns1123_subdomain(a) ? 0 :
		       dec_err(x, n, f, "%s is not a valid FQDN address", q);
	if ((t == ADDR_IPV4 && !valid_ipv4(a)) || (t == ADDR_IPV6 && !valid_ipv6(a)))
		return dec_err(x, n, f, "%s is not a valid %s address", q,
			       t == ADDR_IPV4 ? "IPv4" : "IPv6");
	why = endpoint_address_refusal(t == ADDR_IPV4 ? AF_INET : AF_INET6, a);
	if (why)
		return dec_err(x, n, f, "%s may not be an endpoint address: it is %s", q, why);
	return 0;
}

static int decode_endpoint(struct dec *x, const struct ynode *m, const char *f, size_t i,
			   void *elem, void *ctx)
{
	const struct endpoint_ctx *c = ctx;
	enum address_type t = c->t;
	bool type_ok = c->type_ok;
	struct slice_endpoint *ep = elem;
	const struct ynode *addrs, *cond;
	char fa[FIELD_MAX], fc[FIELD_MAX];
	int r;

	ep->ready = true;       /* absent ready and serving mean true, */
	ep->serving = true;     /* absent terminating means false */
	ep->terminating = false;
	r = dec_list_open(x, m, f, "addresses", true, 1, 100, fa, &addrs);
	if (r < 0 || !addrs)
		return r;
	ep->addresses = calloc_array(addrs->n, sizeof(char *));
	if (!ep->addresses)
		return -ENOMEM;
	for (size_t k = 0; k < addrs->n; k++) {
		char fi[FIELD_MAX], *a = NULL;

		r = dec_str_node(x, addrs->kids[k], field_idx(fi, fa, k), &a);
		if (r == 0 && !a && ynode_is_null(addrs->kids[k]))
			r = dec_required(x, addrs->kids[k], fi);
		if (r < 0)
			return r;
		if (!a)
			continue; /* null or not a string: reported */
		if (type_ok && (r = check_endpoint_address(x, addrs->kids[k], fi, t, a)) < 0) {
			free(a);
			return r;
		}
		ep->addresses[ep->n_addresses++] = a;
	}
	r = dec_map(x, m, "conditions", f, false, &cond);
	if (r < 0 || !cond)
		return r;
	field_key(fc, f, "conditions");
	if ((r = dec_bool(x, cond, "ready", fc, &ep->ready)) < 0 ||
	    (r = dec_bool(x, cond, "serving", fc, &ep->serving)) < 0)
		return r;
	return dec_bool(x, cond, "terminating", fc, &ep->terminating);
}

static int decode_address_type(struct dec *x, const struct ynode *root, struct endpoint_slice *e,
			       bool *ok)
{
	char *t = NULL, q[128];
	int r = dec_str(x, root, "addressType", "", &t);

	*ok = false;
	if (r < 0 || (!t && dec_has(root, "addressType")))
		return r; /* out of memory, or not a string (reported) */
	if (!t)
		return dec_required(x, root, "addressType");
	*ok = true;
	if (!strcmp(t, "IPv4")) {
		e->address_type = ADDR_IPV4;
	} else if (!strcmp(t, "IPv6")) {
		e->address_type = ADDR_IPV6;
	} else if (!strcmp(t, "FQDN")) {
		e->address_type = ADDR_FQDN;
	} else {
		*ok = false;
		r = dec_err(x, ymap_get(root, "addressType"), "addressType",
			    "%s is not one of IPv4, IPv6, FQDN", diag_quote(q, sizeof(q), t, strlen(t)));
	}
	free(t);
	return r;
}

int decode_endpoint_slice(struct dec *x, const struct ynode *root, struct endpoint_slice *out)
{
	const struct ynode *seq;
	struct endpoint_ctx c;
	char f[FIELD_MAX];
	int r;

	for (size_t i = 0; i < out->m.labels.n; i++)
		if (strcmp(out->m.labels.v[i].key, SERVICE_NAME_LABEL) == 0 &&
		    !(out->service_name = strdup(out->m.labels.v[i].value)))
			return -ENOMEM;
	if ((r = decode_address_type(x, root, out, &c.type_ok)) < 0 ||
	    (r = decode_slice_ports(x, root, out)) < 0)
		return r;
	r = dec_list_open(x, root, "", "endpoints", false, 0, 1000, f, &seq);
	if (r < 0 || !seq)
		return r;
	c.t = out->address_type;
	out->endpoints = calloc_array(seq->n, sizeof(*out->endpoints));
	return dec_list_items(x, seq, f, DEC_LIST_COMPACT, out->endpoints, sizeof(*out->endpoints),
			      &out->n_endpoints, decode_endpoint, &c);
}

int decode_namespace(struct dec *x, const struct ynode *root, struct namespace_obj *out)
{
	struct labels *l = &out->m.labels;
	struct label *v;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, NAMESPACE_NAME_LABEL) == 0)
			return 0;
	if (!out->m.name)
		return 0;
	/* the API server sets this label on every Namespace */
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n].key = strdup(NAMESPACE_NAME_LABEL);
	v[l->n].value = strdup(out->m.name);
	l->n++;
	if (!v[l->n - 1].key || !v[l->n - 1].value)
		return -ENOMEM;
	return 0;
}
