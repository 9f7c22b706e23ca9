/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event loop: fd callbacks, one-shot and re-armed timers, disarming, freeing sources
 * from callbacks, signals through signalfd, the stall measure, close-on-exec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/daemon/loop.h"

struct counter {
	int calls;
	int last_fd;
	uint32_t last_events;
	int stop_at;   /* loop_stop() on this call */
	int rearm_until;
	struct loop_timer *other; /* disarmed by the first callback */
	struct loop_io *free_me[2];
};

static void on_io(struct loop *l, int fd, uint32_t events, void *data)
{
	struct counter *c = data;
	char buf[64];

	c->calls++;
	c->last_fd = fd;
	c->last_events = events;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	for (int i = 0; i < 2; i++)
		c->free_me[i] = loop_io_free(c->free_me[i]);
	if (c->calls == c->stop_at)
		loop_stop(l);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct counter *c = data;

	c->calls++;
	assert_false(loop_timer_armed(t));
	if (c->other) {
		assert_int_equal(loop_timer_disarm(c->other), 0);
		c->other = NULL;
	}
	if (c->calls < c->rearm_until)
		assert_int_equal(loop_timer_arm(t, 1000), 0);
	if (c->calls == c->stop_at)
		loop_stop(l);
}

static void on_deadline(struct loop *l, struct loop_timer *t, void *data)
{
	fail_msg("the loop did not stop within the deadline");
}

/* loop_run() with a deadline, so a broken loop fails the test instead of hanging it. */
static void run_bounded(struct loop *l)
{
	struct loop_timer *deadline = NULL;

	assert_int_equal(loop_timer_add(l, on_deadline, NULL, &deadline), 0);
	assert_int_equal(loop_timer_arm(deadline, 60 * LOOP_NSEC_PER_SEC), 0);
	assert_int_equal(loop_run(l), 0);
	loop_timer_free(deadline);
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static void fd_callback_gets_fd_events_and_data(void **state)
{
	struct counter c = { .stop_at = 1 };
	struct loop *l = NULL;
	struct loop_io *io = NULL, *dup = NULL;
	int p[2];

	make_pipe(p);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_io_add(l, p[0], EPOLLIN, on_io, &c, &io), 0);
	assert_int_equal(loop_io_add(l, p[0], EPOLLIN, on_io, &c, &dup), -EEXIST);
	assert_null(dup);
	assert_int_equal(loop_turn(l, 0), 0); /* nothing to read yet */
	assert_int_equal(write(p[1], "x", 1), 1);
	run_bounded(l);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.last_fd, p[0]);
	assert_true(c.last_events & EPOLLIN);

	/* EPOLLOUT on the write end, through loop_io_set_events. */
	io = loop_io_free(io);
	assert_int_equal(loop_io_add(l, p[1], EPOLLIN, on_io, &c, &io), 0);
	assert_int_equal(loop_turn(l, 0), 0);
	assert_int_equal(loop_io_set_events(io, EPOLLOUT), 0);
	assert_int_equal(loop_turn(l, 0), 1); /* a pipe with room is writable at once */
	assert_int_equal(c.calls, 2);
	assert_true(c.last_events & EPOLLOUT);
	io = loop_io_free(io);
	assert_null(loop_free(l));
	close(p[0]);
	close(p[1]);
}

static void timer_fires_once_per_arming(void **state)
{
	struct counter c = { .stop_at = 1 };
	struct loop *l = NULL;
	struct loop_timer *t = NULL;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_timer_add(l, on_timer, &c, &t), 0);
	assert_false(loop_timer_armed(t));
	assert_int_equal(loop_turn(l, 0), 0); /* never armed: never fires */
	assert_int_equal(loop_timer_arm(t, LOOP_NSEC_PER_MSEC), 0);
	assert_true(loop_timer_armed(t));
	run_bounded(l);
	assert_int_equal(c.calls, 1);
	assert_false(loop_timer_armed(t));
	/* One-shot: nothing more is pending. */
	assert_int_equal(loop_turn(l, 0), 0);
	assert_int_equal(c.calls, 1);
	/* Delay 0 means the next turn (a zero timerfd value would disarm it instead); the
	 * bounded wait is a deadline, not a delay. */
	assert_int_equal(loop_timer_arm(t, 0), 0);
	assert_int_equal(loop_turn(l, 60000), 1);
	assert_int_equal(c.calls, 2);
	assert_null(loop_timer_free(t));
	loop_free(l);
}

static void timer_rearmed_from_its_callback(void **state)
{
	struct counter c = { .stop_at = 3, .rearm_until = 3 };
	struct loop *l = NULL;
	struct loop_timer *t = NULL;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_timer_add(l, on_timer, &c, &t), 0);
	assert_int_equal(loop_timer_arm(t, 1000), 0);
	run_bounded(l);
	assert_int_equal(c.calls, 3);
	assert_false(loop_timer_armed(t));

	/* Re-arming an armed timer moves it: still one firing. */
	c = (struct counter){ .stop_at = 1 };
	assert_int_equal(loop_timer_arm(t, 3600 * LOOP_NSEC_PER_SEC), 0);
	assert_int_equal(loop_timer_arm(t, 1000), 0);
	run_bounded(l);
	assert_int_equal(c.calls, 1);
	loop_timer_free(t);
	loop_free(l);
}

static void disarmed_timer_never_fires(void **state)
{
	struct counter a = { 0 }, b = { 0 };
	struct loop *l = NULL;
	struct loop_timer *ta = NULL, *tb = NULL;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_timer_add(l, on_timer, &a, &ta), 0);
	assert_int_equal(loop_timer_add(l, on_timer, &b, &tb), 0);
	/* Both due at once; whichever runs first disarms the other, which must then not run,
	 * even when its expiry is already in this turn's batch. */
	a.other = tb;
	b.other = ta;
	assert_int_equal(loop_timer_arm(ta, 0), 0);
	assert_int_equal(loop_timer_arm(tb, 0), 0);
	while (a.calls + b.calls == 0)
		assert_true(loop_turn(l, 60000) > 0); /* a deadline, not a delay */
	assert_int_equal(a.calls + b.calls, 1);
	assert_false(loop_timer_armed(ta));
	assert_false(loop_timer_armed(tb));
	assert_int_equal(loop_turn(l, 0), 0);
	assert_int_equal(a.calls + b.calls, 1);
	loop_timer_free(ta);
	loop_timer_free(tb);
	loop_free(l);
}

static void sources_freed_inside_a_callback(void **state)
{
	struct counter c = { 0 };
	struct loop *l = NULL;
	struct loop_io *x = NULL, *y = NULL;
	int p[2], q[2];

	make_pipe(p);
	make_pipe(q);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_io_add(l, p[0], EPOLLIN, on_io, &c, &x), 0);
	assert_int_equal(loop_io_add(l, q[0], EPOLLIN, on_io, &c, &y), 0);
	/* Both readable, so both events arrive in one batch; the first callback frees both
	 * sources: the second must not run (and, under ASan, nothing is used after free). */
	c.free_me[0] = x;
	c.free_me[1] = y;
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(write(q[1], "y", 1), 1);
	assert_int_equal(loop_turn(l, 0), 2); /* both already readable */
	assert_int_equal(c.calls, 1);
	assert_int_equal(loop_turn(l, 0), 0);
	loop_free(l);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

struct sigseen {
	int signo[8];
	int n;
};

static void on_signal(struct loop *l, int signo, void *data)
{
	struct sigseen *s = data;

	if (s->n < 8)
		s->signo[s->n++] = signo;
}

static bool is_blocked(int signo)
{
	sigset_t cur;

	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	return sigismember(&cur, signo);
}

static void signals_arrive_as_events(void **state)
{
	struct sigseen hup = { 0 }, term = { 0 };
	struct loop *l = NULL;

	assert_false(is_blocked(SIGHUP));
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_signal_add(l, SIGKILL, on_signal, &hup), -EINVAL);
	assert_int_equal(loop_signal_add(l, 0, on_signal, &hup), -EINVAL);
	assert_int_equal(loop_signal_add(l, SIGHUP, on_signal, &hup), 0);
	assert_int_equal(loop_signal_add(l, SIGTERM, on_signal, &term), 0);
	assert_true(is_blocked(SIGHUP));
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	while (hup.n + term.n < 2)
		assert_true(loop_turn(l, 60000) > 0);
	assert_int_equal(hup.n, 1);
	assert_int_equal(hup.signo[0], SIGHUP);
	assert_int_equal(term.n, 1);
	assert_int_equal(term.signo[0], SIGTERM);

	/* A signal still pending at loop_free is drained, not delivered (SIGTERM's default
	 * action would end this test program), and the mask is as it was. */
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_null(loop_free(l));
	assert_false(is_blocked(SIGHUP));
	assert_false(is_blocked(SIGTERM));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void on_slow_timer(struct loop *l, struct loop_timer *t, void *data)
{
	uint64_t *inside = data;

	sleep_ms(20);
	*inside = loop_stall_ns(l);
	loop_stop(l);
}

/* Lower bounds only: the loop cannot have been busy for less than a callback slept. */
static void stall_counts_time_in_callbacks(void **state)
{
	uint64_t inside = 0;
	struct loop *l = NULL;
	struct loop_timer *t = NULL;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_stall_ns(l), 0);
	assert_int_equal(loop_timer_add(l, on_slow_timer, &inside, &t), 0);
	assert_int_equal(loop_timer_arm(t, 0), 0);
	assert_int_equal(loop_turn(l, 60000), 1);
	assert_true(inside >= 20 * LOOP_NSEC_PER_MSEC);
	assert_true(loop_stall_ns(l) >= 20 * LOOP_NSEC_PER_MSEC); /* the last completed turn */
	loop_timer_free(t);
	loop_free(l);
}

/* The descriptors open now, as a bitmap of the first 1024. */
static void open_fds(unsigned char *map)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = dirfd(d);

	memset(map, 0, 1024);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd != self && fd < 1024)
			map[fd] = 1;
	}
	closedir(d);
}

static void every_descriptor_is_cloexec(void **state)
{
	unsigned char before[1024], after[1024];
	struct sigseen s = { 0 };
	struct counter c = { 0 };
	struct loop *l = NULL;
	struct loop_timer *t = NULL;
	int n_new = 0;

	open_fds(before);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_timer_add(l, on_timer, &c, &t), 0);
	assert_int_equal(loop_signal_add(l, SIGUSR1, on_signal, &s), 0);
	open_fds(after);
	for (int fd = 0; fd < 1024; fd++) {
		if (!after[fd] || before[fd])
			continue;
		n_new++;
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	assert_int_equal(n_new, 3); /* epoll, timerfd, signalfd */
	loop_timer_free(t);
	loop_free(l);
	open_fds(after);
	assert_memory_equal(before, after, sizeof(before));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fd_callback_gets_fd_events_and_data),
		cmocka_unit_test(timer_fires_once_per_arming),
		cmocka_unit_test(timer_rearmed_from_its_callback),
		cmocka_unit_test(disarmed_timer_never_fires),
		cmocka_unit_test(sources_freed_inside_a_callback),
		cmocka_unit_test(signals_arrive_as_events),
		cmocka_unit_test(stall_counts_time_in_callbacks),
		cmocka_unit_test(every_descriptor_is_cloexec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
