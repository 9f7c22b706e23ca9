/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sd_notify against a NOTIFY_SOCKET this test owns (an AF_UNIX datagram socket in a
 * temporary directory): the exact datagrams, status sanitising, the watchdog timer at
 * half WATCHDOG_USEC, and doing nothing without NOTIFY_SOCKET.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/daemon/loop.h"
#include "agent/obs/notify.h"

struct fx {
	char dir[64];
	char path[96];
	int fd;
	struct loop *l;
	struct notify *n;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ngt-notify-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(loop_new(&f->l), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	notify_free(f->n);
	loop_free(f->l);
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	free(f);
	return 0;
}

/* The next datagram, already queued (sd_notify's sendmsg is synchronous); "" if none. */
static void next_datagram(struct fx *f, char *buf, size_t len)
{
	ssize_t n = recv(f->fd, buf, len - 1, MSG_DONTWAIT);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
}

static void expect_datagram(struct fx *f, const char *want)
{
	char buf[2048];

	next_datagram(f, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void states_are_exact_datagrams(void **state)
{
	struct fx *f = *state;

	assert_int_equal(notify_new(f->l, NULL, &f->n), 0);
	assert_int_equal(notify_watchdog_interval_ns(f->n), 0); /* no WATCHDOG_USEC */
	assert_int_equal(notify_ready(f->n, "synced 2 listeners"), 0);
	expect_datagram(f, "READY=1\nSTATUS=synced 2 listeners");
	assert_int_equal(notify_ready(f->n, NULL), 0);
	expect_datagram(f, "READY=1");
	assert_int_equal(notify_status(f->n, "reconciling"), 0);
	expect_datagram(f, "STATUS=reconciling");
	assert_int_equal(notify_stopping(f->n, "stopping on SIGTERM"), 0);
	expect_datagram(f, "STOPPING=1\nSTATUS=stopping on SIGTERM");
	assert_int_equal(notify_status(f->n, NULL), 0); /* nothing to say: nothing sent */
	expect_datagram(f, "");
}

static void status_is_one_bounded_line(void **state)
{
	struct fx *f = *state;
	char big[NOTIFY_STATUS_MAX + 50], want[NOTIFY_STATUS_MAX + 50];

	assert_int_equal(notify_new(f->l, NULL, &f->n), 0);
	/* A newline would start a new assignment: READY=1 must not be forgeable. */
	assert_int_equal(notify_status(f->n, "bad input\nREADY=1\ttab\x7f"), 0);
	expect_datagram(f, "STATUS=bad input READY=1 tab ");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(notify_status(f->n, big), 0);
	snprintf(want, sizeof(want), "STATUS=%.*s", NOTIFY_STATUS_MAX, big);
	expect_datagram(f, want);
}

static void reloading_carries_the_monotonic_time(void **state)
{
	struct fx *f = *state;
	const char *head = "RELOADING=1\nMONOTONIC_USEC=";
	char buf[256], *end;
	uint64_t before, after, usec;

	assert_int_equal(notify_new(f->l, NULL, &f->n), 0);
	before = loop_now() / 1000;
	assert_int_equal(notify_reloading(f->n, "reloading on SIGHUP"), 0);
	after = loop_now() / 1000;
	next_datagram(f, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, head, strlen(head)), 0);
	usec = strtoull(buf + strlen(head), &end, 10);
	assert_true(usec >= before && usec <= after);
	assert_string_equal(end, "\nSTATUS=reloading on SIGHUP");
}

struct pings {
	struct fx *f;
	int seen;
	int other;
};

static void on_datagram(struct loop *l, int fd, uint32_t events, void *data)
{
	struct pings *p = data;
	char buf[256];

	for (;;) {
		next_datagram(p->f, buf, sizeof(buf));
		if (!*buf)
			break;
		if (!strcmp(buf, "WATCHDOG=1"))
			p->seen++;
		else
			p->other++;
	}
	if (p->seen >= 3)
		loop_stop(l);
}

static void on_deadline(struct loop *l, struct loop_timer *t, void *data)
{
	fail_msg("no 3 watchdog pings within the deadline");
}

static void watchdog_pings_from_the_loop(void **state)
{
	struct fx *f = *state;
	struct pings p = { .f = f };
	struct loop_io *io = NULL;
	struct loop_timer *deadline = NULL;
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_int_equal(setenv("WATCHDOG_USEC", "20000", 1), 0);
	assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
	assert_int_equal(notify_new(f->l, NULL, &f->n), 0);
	assert_int_equal(notify_watchdog_interval_ns(f->n), 10 * LOOP_NSEC_PER_MSEC);
	assert_int_equal(loop_io_add(f->l, f->fd, EPOLLIN, on_datagram, &p, &io), 0);
	assert_int_equal(loop_timer_add(f->l, on_deadline, NULL, &deadline), 0);
	assert_int_equal(loop_timer_arm(deadline, 60 * LOOP_NSEC_PER_SEC), 0);
	assert_int_equal(loop_run(f->l), 0);
	assert_true(p.seen >= 3);
	assert_int_equal(p.other, 0);
	loop_io_free(io);
	loop_timer_free(deadline);
	f->n = notify_free(f->n);
}

static void watchdog_for_another_pid_is_off(void **state)
{
	struct fx *f = *state;

	assert_int_equal(setenv("WATCHDOG_USEC", "20000", 1), 0);
	assert_int_equal(setenv("WATCHDOG_PID", "1", 1), 0);
	assert_int_equal(notify_new(f->l, NULL, &f->n), 0);
	assert_int_equal(notify_watchdog_interval_ns(f->n), 0);
}

static void nothing_without_notify_socket(void **state)
{
	struct fx *f = *state;
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(setenv("WATCHDOG_USEC", "20000", 1), 0);
	assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
	assert_int_equal(notify_new(f->l, NULL, &f->n), 0);
	assert_int_equal(notify_watchdog_interval_ns(f->n), 0);
	assert_int_equal(notify_ready(f->n, "x"), 0);
	assert_int_equal(notify_reloading(f->n, "x"), 0);
	assert_int_equal(notify_stopping(f->n, NULL), 0);
	expect_datagram(f, "");
	assert_int_equal(loop_turn(f->l, 0), 0); /* no timer either */
}

static void unreachable_socket_is_an_error(void **state)
{
	struct fx *f = *state;
	char gone[128];

	snprintf(gone, sizeof(gone), "%s/absent", f->dir);
	assert_int_equal(setenv("NOTIFY_SOCKET", gone, 1), 0);
	assert_int_equal(notify_new(f->l, NULL, &f->n), 0);
	assert_true(notify_ready(f->n, "x") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(states_are_exact_datagrams, setup, teardown),
		cmocka_unit_test_setup_teardown(status_is_one_bounded_line, setup, teardown),
		cmocka_unit_test_setup_teardown(reloading_carries_the_monotonic_time, setup, teardown),
		cmocka_unit_test_setup_teardown(watchdog_pings_from_the_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(watchdog_for_another_pid_is_off, setup, teardown),
		cmocka_unit_test_setup_teardown(nothing_without_notify_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(unreachable_socket_is_an_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
