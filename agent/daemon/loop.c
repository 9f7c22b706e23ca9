/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/loop.h"

#define MAX_EVENTS 64

enum source_kind { SRC_IO, SRC_TIMER, SRC_SIGNAL };

/* What epoll_event.data.ptr points at. A freed source stays allocated, marked dead,
 * until the end of the turn: an event for it may still sit in this turn's batch. */
struct source {
	enum source_kind kind;
	int fd;
	bool dead;
	struct loop *l;
	struct source *next_dead;
};

struct loop_io {
	struct source s; /* first: the epoll cookie */
	loop_io_fn fn;
	void *data;
};

struct loop_timer {
	struct source s;
	loop_timer_fn fn;
	void *data;
	bool armed;
};

struct signal_slot {
	loop_signal_fn fn;
	void *data;
};

struct loop {
	int epfd;
	struct source sig;        /* the signalfd, created by the first loop_signal_add */
	sigset_t handled;         /* the signalfd's mask */
	sigset_t blocked_by_us;   /* to unblock on loop_free: only what was not blocked before */
	struct signal_slot slots[_NSIG];
	bool stop;
	bool in_turn;
	uint64_t turn_start;
	uint64_t last_dispatch_ns;
	struct source *dead;
};

uint64_t loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * LOOP_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;

		free(l);
		return r;
	}
	l->sig.kind = SRC_SIGNAL;
	l->sig.fd = -1;
	l->sig.l = l;
	sigemptyset(&l->handled);
	sigemptyset(&l->blocked_by_us);
	*ret = l;
	return 0;
}

static void reap(struct loop *l)
{
	while (l->dead) {
		struct source *s = l->dead;

		l->dead = s->next_dead;
		free(s);
	}
}

/* Reads what is pending so that unblocking does not deliver it (default action: exit). */
static void drain_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
}

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
	if (l->sig.fd >= 0)
		drain_signals(l);
	sigprocmask(SIG_UNBLOCK, &l->blocked_by_us, NULL);
	if (l->sig.fd >= 0)
		close(l->sig.fd);
	reap(l);
	close(l->epfd);
	free(l);
	return NULL;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

uint64_t loop_stall_ns(const struct loop *l)
{
	uint64_t cur = l->in_turn ? loop_now() - l->turn_start : 0;

	return cur > l->last_dispatch_ns ? cur : l->last_dispatch_ns;
}

static void dispatch_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct signal_slot *s;

		if (si.ssi_signo >= _NSIG)
			continue;
		s = &l->slots[si.ssi_signo];
		if (s->fn)
			s->fn(l, (int)si.ssi_signo, s->data);
	}
}

static void dispatch_timer(struct loop_timer *t)
{
	uint64_t expirations;

	/* Nothing to read: disarmed or re-armed by an earlier callback of this turn. */
	if (read(t->s.fd, &expirations, sizeof(expirations)) != (ssize_t)sizeof(expirations))
		return;
	t->armed = false;
	t->fn(t->s.l, t, t->data);
}

static void dispatch(struct source *s, uint32_t events)
{
	switch (s->kind) {
	case SRC_IO: {
		struct loop_io *io = (struct loop_io *)s;

		io->fn(s->l, s->fd, events, io->data);
		break;
	}
	case SRC_TIMER:
		dispatch_timer((struct loop_timer *)s);
		break;
	case SRC_SIGNAL:
		dispatch_signals(s->l);
		break;
	}
}

int loop_turn(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->turn_start = loop_now();
	l->in_turn = true;
	for (int i = 0; i < n; i++) {
		struct source *s = ev[i].data.ptr;

		if (!s->dead)
			dispatch(s, ev[i].events);
	}
	l->in_turn = false;
	l->last_dispatch_ns = loop_now() - l->turn_start;
	reap(l);
	return n;
}

int loop_run(struct loop *l)
{
	l->stop = false;
	while (!l->stop) {
		int r = loop_turn(l, -1);

		if (r < 0)
			return r;
	}
	return 0;
}

static int watch(struct source *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	return epoll_ctl(s->l->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0 ? -errno : 0;
}

/* Unregisters s and frees it now, or at the end of the turn when events may be queued. */
static void retire(struct source *s)
{
	struct loop *l = s->l;

	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (!l->in_turn) {
		free(s);
		return;
	}
	s->dead = true;
	s->next_dead = l->dead;
	l->dead = s;
}

int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *data,
		struct loop_io **ret)
{
	struct loop_io *io = calloc(1, sizeof(*io));
	int r;

	if (!io)
		return -ENOMEM;
	io->s = (struct source){ .kind = SRC_IO, .fd = fd, .l = l };
	io->fn = fn;
	io->data = data;
	r = watch(&io->s, events);
	if (r < 0) {
		free(io);
		return r;
	}
	*ret = io;
	return 0;
}

int loop_io_set_events(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &io->s };

	return epoll_ctl(io->s.l->epfd, EPOLL_CTL_MOD, io->s.fd, &ev) < 0 ? -errno : 0;
}

struct loop_io *loop_io_free(struct loop_io *io)
{
	if (io)
		retire(&io->s);
	return NULL;
}

int loop_timer_add(struct loop *l, loop_timer_fn fn, void *data, struct loop_timer **ret)
{
	struct loop_timer *t = calloc(1, sizeof(*t));
	int fd, r;

	if (!t)
		return -ENOMEM;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		free(t);
		return r;
	}
	t->s = (struct source){ .kind = SRC_TIMER, .fd = fd, .l = l };
	t->fn = fn;
	t->data = data;
	r = watch(&t->s, EPOLLIN);
	if (r < 0) {
		close(fd);
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int loop_timer_arm(struct loop_timer *t, uint64_t delay_ns)
{
	struct itimerspec its = { 0 };

	/* An all-zero it_value disarms a timerfd: "now" is the smallest non-zero delay. */
	if (delay_ns == 0)
		delay_ns = 1;
	its.it_value.tv_sec = (time_t)(delay_ns / LOOP_NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(delay_ns % LOOP_NSEC_PER_SEC);
	if (timerfd_settime(t->s.fd, 0, &its, NULL) < 0)
		return -errno;
	t->armed = true;
	return 0;
}

int loop_timer_disarm(struct loop_timer *t)
{
	struct itimerspec its = { 0 };

	if (timerfd_settime(t->s.fd, 0, &its, NULL) < 0)
		return -errno;
	t->armed = false;
	return 0;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->armed;
}

struct loop_timer *loop_timer_free(struct loop_timer *t)
{
	int fd;

	if (!t)
		return NULL;
	fd = t->s.fd;
	retire(&t->s);
	close(fd);
	return NULL;
}

/* Blocks signo unless it already was, remembering which ones loop_free must unblock. */
static int block_signal(struct loop *l, int signo)
{
	sigset_t one, old;

	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, &old) < 0)
		return -errno;
	if (!sigismember(&old, signo))
		sigaddset(&l->blocked_by_us, signo);
	return 0;
}

static int update_signalfd(struct loop *l)
{
	bool first = l->sig.fd < 0;
	int fd = signalfd(l->sig.fd, &l->handled, SFD_CLOEXEC | SFD_NONBLOCK);
	int r;

	if (fd < 0)
		return -errno;
	if (!first)
		return 0;
	l->sig.fd = fd;
	r = watch(&l->sig, EPOLLIN);
	if (r < 0) {
		close(fd);
		l->sig.fd = -1;
	}
	return r;
}

int loop_signal_add(struct loop *l, int signo, loop_signal_fn fn, void *data)
{
	int r;

	if (signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	r = block_signal(l, signo);
	if (r < 0)
		return r;
	sigaddset(&l->handled, signo);
	r = update_signalfd(l);
	if (r < 0) {
		sigdelset(&l->handled, signo);
		return r;
	}
	l->slots[signo] = (struct signal_slot){ .fn = fn, .data = data };
	return 0;
}
