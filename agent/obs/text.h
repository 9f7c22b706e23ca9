/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small text tools shared by the log and metrics writers: a UTF-8 decoder (so that
 * invalid bytes from input are never passed through raw) and a growable string buffer.
 */
#ifndef NFTGATE_AGENT_OBS_TEXT_H
#define NFTGATE_AGENT_OBS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the UTF-8 sequence at s (n > 0 bytes available): returns its length (1 to 4)
 * and sets *cp, or returns 0 when s does not start a valid sequence (a stray
 * continuation byte, overlong form, surrogate, above U+10FFFF, or cut short). */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);

/* A growable, always NUL-terminated string. An allocation failure sets oom and makes
 * every later put a no-op, so callers check once at the end. Zero-initialise to start. */
struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void strbuf_put(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_putc(struct strbuf *b, char c);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties b and releases its memory. */
void strbuf_release(struct strbuf *b);

#endif
