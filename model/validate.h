/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field validators with the exact patterns of the Kubernetes API server and the Gateway API
 * CRDs (reference/gateway-api.md §1.2, §3.1, §5.4). Pure predicates on NUL-terminated strings.
 */
#ifndef NFTGATE_MODEL_VALIDATE_H
#define NFTGATE_MODEL_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, 1..63. Namespaces, label-ish names. */
bool valid_dns1123_label(const char *s);
/* RFC 1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, 1..63. Service names. */
bool valid_dns1035_label(const char *s);
/* RFC 1123 subdomain, dot-separated labels, 1..253. Most object names. */
bool valid_dns1123_subdomain(const char *s);
/* Gateway API SectionName: the subdomain pattern, 1..253. */
bool valid_section_name(const char *s);
/* Gateway API Group: "" or a subdomain, <= 253. */
bool valid_group(const char *s);
/* Gateway API Kind: ^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$, 1..63. */
bool valid_kind(const char *s);
/* Listener protocol pattern, 1..255 (see validate.c for its unanchored second branch). */
bool valid_protocol(const char *s);
/* GatewayClass controllerName: domain/path, 1..253. */
bool valid_controller_name(const char *s);
/* Listener or address hostname: optional "*." then a subdomain, 1..253. */
bool valid_hostname(const char *s);
bool valid_ipv4(const char *s);
bool valid_ipv6(const char *s);
/*
 * Why the API server refuses an EndpointSlice endpoint address, or NULL when it accepts it:
 * the address is unspecified, loopback, link-local unicast or link-local multicast
 * (ValidateEndpointIP), or, in an IPv6 slice, IPv4-mapped (IsValidIPv6Address). family is
 * AF_INET (addr holds 4 bytes, network order) or AF_INET6 (16 bytes); any other family is
 * refused. The text returned is static and reads after "it is ".
 */
const char *endpoint_ip_refusal(int family, const uint8_t *addr);
/* The same for the text of an address in a slice of that family, which must also parse as
 * an address of that family ("not a valid IPv4 address" otherwise). */
const char *endpoint_address_refusal(int family, const char *s);
/* Label key (optional DNS-subdomain prefix "/" then a name of <= 63) and label value. */
bool valid_label_key(const char *s);
bool valid_label_value(const char *s);

#endif
