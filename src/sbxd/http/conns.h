/* Connection bookkeeping for the event-driven server: the soft and per-IP
 * limits, the deadline for receiving a request, and delayed replies.
 *
 * libmicrohttpd has one timeout, for idle connections.  A client that
 * trickles a request in keeps it from firing, so this module keeps each
 * connection's state and one timer thread closes those whose request has
 * not fully arrived within `request_timeout_s`.  The same thread resumes
 * connections suspended for a delayed reply, so a delay costs no thread. */
#ifndef SBXD_CONNS_H
#define SBXD_CONNS_H

#include "api/stats.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <sys/socket.h>
struct conns;
struct conn;

struct conns_config {
	unsigned max_connections;       /* past this, requests get a 503 */
	unsigned per_ip;                /* per non-loopback peer; 0: none */
	unsigned request_timeout_s;     /* to receive a whole request */
	unsigned idle_timeout_s;        /* the daemon's, between requests */
};

/* What libmicrohttpd may hold: max_connections and a reserve above it for
 * sending the 503s (which need a connection); past it, it accepts none. */
unsigned conns_hard_limit(unsigned max_connections);

/* Raises the soft RLIMIT_NOFILE (up to the hard one) to fit the hard limit
 * plus what the rest of the process needs.  Returns max_connections, or
 * the lower number that fits. */
unsigned conns_fit_fd_limit(unsigned max_connections);

/* `st` is borrowed and must outlive the result.  NULL on ENOMEM. */
struct conns *conns_new(const struct conns_config *cfg, struct stats *st);

/* Starts the timer thread.  Returns 0 or -errno. */
int conns_start(struct conns *c);

/* Resumes every delayed connection now and suspends none from then on;
 * call before stopping the HTTP daemon, which must not hold suspended
 * connections. */
void conns_drain(struct conns *c);

/* Joins the timer thread and frees; call after the daemon stopped. */
void conns_free(struct conns *c);

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls: the conns);
 * calls the two below. */
void conns_notify(void *cls, struct MHD_Connection *mc, void **ctx,
		  enum MHD_ConnectionNotificationCode toe);

/* libmicrohttpd's connection notifications.  `fd` and `addr` are the
 * connection's socket and peer; *ctx receives / releases the state. */
void conns_opened(struct conns *c, int fd, const struct sockaddr *addr, void **ctx);
void conns_closed(struct conns *c, void **ctx);

/* The request line arrived: the request deadline starts.  Returns false
 * when the connection is over a limit and must be answered 503. */
bool conns_request_begun(struct conns *c, struct conn *k);

/* The whole request arrived (no deadline while it is served), and its
 * reply went out: the daemon's idle timeout applies, and a next request
 * line must be in within it plus the request timeout (traffic resets the
 * daemon's timeout, so a request line trickled in would not end). */
void conns_request_read(struct conns *c, struct conn *k);
void conns_request_done(struct conns *c, struct conn *k);
/* A body streamed to its handler is coming in, of any size and for any
 * time: no request deadline, but a client that closes meanwhile is seen
 * within a second (see conns.c), then conns_request_read at its end. */
void conns_request_streaming(struct conns *c, struct conn *k);

/* Suspends `mc` (from its request callback) and resumes it after `ms`;
 * the callback is then called again.  Returns false, suspending nothing,
 * once draining. */
bool conns_delay(struct conns *c, struct MHD_Connection *mc, long ms);

#endif
