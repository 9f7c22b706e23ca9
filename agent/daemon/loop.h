/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's one event loop: epoll over file descriptors, monotonic one-shot timers
 * (timerfd, re-armable: debounce, backoff, watchdog) and signals (signalfd). No threads:
 * every callback runs on the thread that calls loop_run(), one at a time, so callbacks
 * never need locks. Every descriptor the loop creates is O_CLOEXEC (the timerfds and the
 * signalfd also non-blocking).
 *
 * Errors are -errno. Sources (struct loop_io, struct loop_timer) belong to their caller,
 * who frees them before loop_free(); freeing a source from inside any callback, its own
 * included, is safe (the memory is released after the current turn).
 */
#ifndef NFTGATE_AGENT_DAEMON_LOOP_H
#define NFTGATE_AGENT_DAEMON_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_io;
struct loop_timer;

/* events: what epoll reported (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, ...). */
typedef void (*loop_io_fn)(struct loop *l, int fd, uint32_t events, void *data);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t, void *data);
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *data);

#define LOOP_NSEC_PER_MSEC UINT64_C(1000000)
#define LOOP_NSEC_PER_SEC UINT64_C(1000000000)

/* A new loop in *ret. 0 or -errno (-ENOMEM, or what epoll_create1/signalfd refused). */
int loop_new(struct loop **ret);

/* Closes the loop's own descriptors and unblocks the signals loop_signal_add() blocked
 * (any still pending are first drained, not delivered). Every source must be freed
 * first. Accepts NULL; returns NULL. */
struct loop *loop_free(struct loop *l);

/* Runs turns until loop_stop(). Returns 0 after loop_stop(), or -errno if epoll_wait
 * fails (never for EINTR). */
int loop_run(struct loop *l);

/* One turn: waits at most timeout_ms (-1: no bound, 0: do not wait) for events, then
 * dispatches them. Returns the number of events dispatched (0 on timeout or EINTR) or
 * -errno. For callers that drive the loop themselves, and for tests. */
int loop_turn(struct loop *l, int timeout_ms);

/* Makes loop_run() return after the current callback and the rest of this turn. */
void loop_stop(struct loop *l);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t loop_now(void);

/* How long the loop has gone without waiting for events: the longest of the dispatch
 * time of the last completed turn and, while a turn is under way, the time since that
 * turn began. A callback that blocks (a slow reconcile, a stuck write) shows here; an
 * idle loop shows ~0. /healthz compares it with its bound. */
uint64_t loop_stall_ns(const struct loop *l);

/* Watches fd (borrowed: the caller keeps it open until loop_io_free) for events
 * (EPOLLIN, EPOLLOUT, ...; level-triggered unless EPOLLET is given). The callback gets
 * data. *ret is the registration. -EEXIST if fd is already watched. */
int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *data,
		struct loop_io **ret);

/* Changes the events watched. */
int loop_io_set_events(struct loop_io *io, uint32_t events);

/* Stops watching (the fd stays open: it is the caller's). Accepts NULL; returns NULL. */
struct loop_io *loop_io_free(struct loop_io *io);

/* A disarmed timer in *ret that calls fn(l, t, data) when it fires. */
int loop_timer_add(struct loop *l, loop_timer_fn fn, void *data, struct loop_timer **ret);

/* Arms the timer to fire once, delay_ns from now (0: on the next turn). Re-arming an
 * armed timer moves it; a timer fires at most once per arming. Callbacks may re-arm
 * their own timer (periodic work, backoff). */
int loop_timer_arm(struct loop_timer *t, uint64_t delay_ns);

/* Disarms; a disarmed timer does not fire, even if it expired earlier in this turn. */
int loop_timer_disarm(struct loop_timer *t);

/* True between loop_timer_arm() and the callback (or loop_timer_disarm()). */
bool loop_timer_armed(const struct loop_timer *t);

/* Disarms and releases. Accepts NULL; returns NULL. */
struct loop_timer *loop_timer_free(struct loop_timer *t);

/* Routes signo (SIGTERM, SIGINT, SIGHUP, ...) to fn through the loop's signalfd: the
 * signal is blocked for the process and read in a turn like any event, so fn may do
 * anything (it is not a signal handler). What each signal means is the caller's choice.
 * A second call for the same signo replaces the handler. Blocked signals stay blocked in
 * children across exec: unblock them there. -EINVAL for SIGKILL, SIGSTOP or out of range. */
int loop_signal_add(struct loop *l, int signo, loop_signal_fn fn, void *data);

#endif
