/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server's name and pattern checks, hand-written (no regex engine): each function
 * says which pattern it implements.
 */
#include <arpa/inet.h>
#include <string.h>

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
