/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server's name and pattern checks, hand-written (no regex engine): each function
 * says which pattern it implements.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "model/validate.h"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..len) */
static bool label_span(const char *s, size_t len)
{
	if (len == 0 || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* label(\.label)* over s[0..len): the subdomain pattern without a length bound */
static bool subdomain_span(const char *s, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!label_span(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool valid_dns1123_label(const char *s)
{
	size_t len = strlen(s);

	return len <= 63 && label_span(s, len);
}

bool valid_dns1035_label(const char *s)
{
	size_t len = strlen(s);

	return len <= 63 && label_span(s, len) && s[0] >= 'a' && s[0] <= 'z';
}

bool valid_dns1123_subdomain(const char *s)
{
	size_t len = strlen(s);

	return len <= 253 && subdomain_span(s, len);
}

bool valid_section_name(const char *s)
{
	return valid_dns1123_subdomain(s);
}

bool valid_group(const char *s)
{
	return s[0] == '\0' || valid_dns1123_subdomain(s);
}

bool valid_kind(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	if (!alnum(s[len - 1]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/*
 * ^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$
 * The CRD's second branch has no ^, so it matches any string that *ends* in
 * <subdomain>/<alnum+>; the shortest subdomain is one [a-z0-9] character, so that branch
 * reduces to: the last '/' is followed by [A-Za-z0-9]+ to the end and preceded by [a-z0-9].
 */
bool valid_protocol(const char *s)
{
	size_t len = strlen(s);
	const char *slash;
	bool ok = len > 0;

	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len && ok; i++)
		ok = alnum(s[i]) || (s[i] == '-' && i > 0 && i + 1 < len);
	if (ok)
		return true;
	slash = strrchr(s, '/');
	if (!slash || slash == s || !lower_alnum(slash[-1]) || slash[1] == '\0')
		return false;
	for (const char *p = slash + 1; *p; p++)
		if (!alnum(*p))
			return false;
	return true;
}

/* ^<subdomain>\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$, 1..253 */
bool valid_controller_name(const char *s)
{
	size_t len = strlen(s);
	const char *slash = strchr(s, '/');

	if (len == 0 || len > 253 || !slash || !subdomain_span(s, (size_t)(slash - s)))
		return false;
	if (slash[1] == '\0')
		return false;
	for (const char *p = slash + 1; *p; p++)
		if (!alnum(*p) && !strchr("/-._~%!$&'()*+,;=:", *p))
			return false;
	return true;
}

/* ^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$, 1..253 */
bool valid_hostname(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	if (s[0] == '*' && s[1] == '.')
		return subdomain_span(s + 2, len - 2);
	return subdomain_span(s, len);
}

/* inet_pton is as strict as the API server's isIP(): no leading zeros, no zones. */
bool valid_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

bool valid_ipv6(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/*
 * Kubernetes refuses these in EndpointSlices (pkg/apis/discovery/validation validateEndpoints:
 * IsValidIPv4Address / IsValidIPv6Address, then ValidateEndpointIP in
 * pkg/apis/core/validation): unspecified and loopback addresses make no sense as a
 * destination, and link-local ones reach the node itself (169.254.169.254 is the cloud
 * metadata service). ValidateEndpointIP works with Go's net.IP predicates, whose exact ranges
 * these are: IsUnspecified is the single address 0.0.0.0 or ::, IsLinkLocalMulticast is
 * 224.0.0.0/24 or ff02::/16 with any flags nibble (ffx2::/16). Other multicast (239.0.0.0/8,
 * ff05::/16) and broadcast pass the API server, so they pass here too: a TCP connection can
 * never be made to them. IsValidIPv6Address refuses what Go's To4() maps back to IPv4, i.e.
 * ::ffff:0:0/96 (whatever its spelling), so that an IPv6 slice holds IPv6 addresses only.
 */
static const char *ipv4_refusal(const uint8_t *a)
{
	if (!(a[0] | a[1] | a[2] | a[3]))
		return "unspecified (0.0.0.0, ::)";
	if (a[0] == 127)
		return "in the loopback range (127.0.0.0/8, ::1/128)";
	if (a[0] == 169 && a[1] == 254)
		return "in the link-local range (169.254.0.0/16, fe80::/10)";
	if (a[0] == 224 && a[1] == 0 && a[2] == 0)
		return "in the link-local multicast range (224.0.0.0/24, ffx2::/16)";
	return NULL;
}

static const char *ipv6_refusal(const uint8_t *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	uint8_t any = 0;

	if (!memcmp(a, mapped, sizeof(mapped)))
		return "an IPv4-mapped IPv6 address (::ffff:0:0/96), which an IPv6 slice may not hold";
	for (int i = 0; i < 15; i++)
		any |= a[i];
	if (!any && a[15] == 0)
		return "unspecified (0.0.0.0, ::)";
	if (!any && a[15] == 1)
		return "in the loopback range (127.0.0.0/8, ::1/128)";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "in the link-local range (169.254.0.0/16, fe80::/10)";
	if (a[0] == 0xff && (a[1] & 0x0f) == 0x02)
		return "in the link-local multicast range (224.0.0.0/24, ffx2::/16)";
	return NULL;
}

const char *endpoint_ip_refusal(int family, const uint8_t *addr)
{
	if (family == AF_INET)
		return ipv4_refusal(addr);
	if (family == AF_INET6)
		return ipv6_refusal(addr);
	return "of an address family other than IPv4 and IPv6";
}

const char *endpoint_address_refusal(int family, const char *s)
{
	uint8_t a[16];

	if (family != AF_INET && family != AF_INET6)
		return endpoint_ip_refusal(family, NULL);
	if (inet_pton(family, s, a) != 1)
		return family == AF_INET ? "not a valid IPv4 address" : "not a valid IPv6 address";
	return endpoint_ip_refusal(family, a);
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], 1..63: a qualified name's name part */
static bool qualified_name_part(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !alnum(s[0]) || !alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!alnum(s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

bool valid_label_key(const char *s)
{
	const char *slash = strchr(s, '/');

	if (!slash)
		return qualified_name_part(s, strlen(s));
	if (slash == s || (size_t)(slash - s) > 253 || !subdomain_span(s, (size_t)(slash - s)))
		return false;
	return qualified_name_part(slash + 1, strlen(slash + 1));
}

bool valid_label_value(const char *s)
{
	size_t len = strlen(s);

	return len == 0 || qualified_name_part(s, len);
}
