/* Connection bookkeeping and the timer thread; see conns.h. */
#include "http/conns.h"

#include "common/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* How often the timer thread looks for late requests when no delayed
 * reply is due sooner: a late request is closed within this of its
 * deadline. */
#define SWEEP_MS 250.0
/* How often it also looks for clients that closed while sending: a close
 * libmicrohttpd missed is acted on within this. */
#define EOF_CHECK_MS 1000
#define IP_BUCKETS 256

enum conn_state {
	CONN_WAITING,           /* connected, or request line in: has a deadline */
	CONN_RECEIVING,         /* a streamed body coming in: no deadline */
	CONN_SERVING,           /* request read, being answered: no deadline */
	CONN_IDLE,              /* between requests: a longer deadline */
};

struct ip_count {
	struct ip_count *next;
	unsigned char addr[16];
	unsigned n;
};

struct conn {
	struct conn *prev, *next;
	int fd;
	enum conn_state state;
	int64_t deadline;       /* monotonic ms, unless CONN_SERVING */
	bool over;              /* opened over a limit: answer 503 */
	bool timed_out;         /* shut down by the sweep */
	struct ip_count *ip;    /* NULL: loopback or AF_UNIX peer */
};

struct delayed {
	int64_t due;
	struct MHD_Connection *mc;
};

struct conns {
	struct conns_config cfg;
	struct stats *stats;
	pthread_t thread;
	bool started;

	/* Guards everything below.  Taken by the daemon's workers in the
	 * callbacks and by the timer thread; never held across I/O other
	 * than shutdown(2) of a socket (which cannot block). */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t resumed;         /* in_resume went back to false */
	bool stopping, draining;
	bool in_resume;                 /* the timer is resuming, unlocked */
	unsigned open;
	struct conn *head;
	struct ip_count *ips[IP_BUCKETS];
	struct delayed *heap;   /* min-heap on `due` */
	size_t nheap, capheap;
};

/* Descriptors left for everything but connections (files, the state
 * database, the embedding process's own). */
#define FD_SPARE 256

unsigned conns_hard_limit(unsigned max_connections)
{
	return max_connections + (max_connections / 16 > 64 ? max_connections / 16 : 64);
}

unsigned conns_fit_fd_limit(unsigned max_connections)
{
	rlim_t want = conns_hard_limit(max_connections) + FD_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return max_connections;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return max_connections;
	/* The largest n with n + max(n/16, 64) + FD_SPARE <= the limit. */
	unsigned n = rl.rlim_cur > FD_SPARE + 65 ? (unsigned)(rl.rlim_cur - FD_SPARE - 64) : 1;

	while (n > 1 && conns_hard_limit(n) + FD_SPARE > rl.rlim_cur)
		n--;
	return n < max_connections ? n : max_connections;
}

struct conns *conns_new(const struct conns_config *cfg, struct stats *st)
{
	struct conns *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->stats = st;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&c->resumed, NULL);
	return c;
}

/* ---- the delay heap (lock held) --------------------------------------- */

static void heap_swap(struct delayed *a, struct delayed *b)
{
	struct delayed t = *a;

	*a = *b;
	*b = t;
}

static int heap_push(struct conns *c, int64_t due, struct MHD_Connection *mc)
{
	size_t i = c->nheap;

	if (c->nheap == c->capheap) {
		size_t cap = c->capheap ? 2 * c->capheap : 64;
		struct delayed *h = realloc(c->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		c->heap = h;
		c->capheap = cap;
	}
	c->heap[c->nheap++] = (struct delayed){ due, mc };
	while (i > 0 && c->heap[(i - 1) / 2].due > c->heap[i].due) {
		heap_swap(&c->heap[(i - 1) / 2], &c->heap[i]);
		i = (i - 1) / 2;
	}
	return 0;
}

static struct MHD_Connection *heap_pop(struct conns *c)
{
	struct MHD_Connection *mc = c->heap[0].mc;
	size_t i = 0;

	c->heap[0] = c->heap[--c->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < c->nheap && c->heap[l].due < c->heap[m].due)
			m = l;
		if (r < c->nheap && c->heap[r].due < c->heap[m].due)
			m = r;
		if (m == i)
			break;
		heap_swap(&c->heap[i], &c->heap[m]);
		i = m;
	}
	return mc;
}

/* ---- the timer thread ------------------------------------------------- */

/* Has the client of a connection that is not being answered closed its
 * end, with nothing left unread?  libmicrohttpd 0.9.75's edge-triggered
 * epoll can miss a FIN that arrives with the last bytes of a request body
 * (a client that dies mid-upload): the socket sits in CLOSE-WAIT, and the
 * upload's temporary file stays, until the idle timeout.  A peek sees it;
 * shutdown(SHUT_RD) then wakes the daemon, which reads the end of the
 * stream it missed and closes the connection as it would have. */
static bool client_gone(const struct conn *k)
{
	char b;

	return k->state != CONN_SERVING && !k->timed_out &&
	       recv(k->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Shuts down the sockets of requests past their deadline, and with
 * check_eof those of clients gone; the daemon then sees the end of the
 * stream and closes them (and conns_closed runs, which waits for our lock:
 * the fd stays valid while we hold it). */
static void sweep(struct conns *c, int64_t now, bool check_eof)
{
	for (struct conn *k = c->head; k; k = k->next) {
		if (check_eof && client_gone(k)) {
			k->timed_out = true;
			shutdown(k->fd, SHUT_RD);
			continue;
		}
		if (k->state == CONN_SERVING || k->state == CONN_RECEIVING || k->timed_out ||
		    now < k->deadline)
			continue;
		k->timed_out = true;
		shutdown(k->fd, SHUT_RDWR);
		stats_conn(c->stats, STATS_CONN_TIMED_OUT);
	}
}

static void wait_until(struct conns *c, int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	pthread_cond_timedwait(&c->wake, &c->lock, &ts);
}

static void *timer_main(void *arg)
{
	struct conns *c = arg;
	int64_t next_sweep = clock_mono_ms() + SWEEP_MS, next_eof = next_sweep;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		int64_t now = clock_mono_ms(), until = next_sweep;

		while (c->nheap > 0 && c->heap[0].due <= now) {
			struct MHD_Connection *mc = heap_pop(c);

			/* Resuming takes the daemon's own lock: not under ours.
			 * conns_drain waits for it, so the daemon cannot stop
			 * in the middle. */
			c->in_resume = true;
			pthread_mutex_unlock(&c->lock);
			MHD_resume_connection(mc);
			pthread_mutex_lock(&c->lock);
			c->in_resume = false;
			pthread_cond_broadcast(&c->resumed);
		}
		if (now >= next_sweep) {
			sweep(c, now, now >= next_eof);
			if (now >= next_eof)
				next_eof = now + EOF_CHECK_MS;
			next_sweep = now + SWEEP_MS;
			until = next_sweep;
		}
		if (c->nheap > 0 && c->heap[0].due < until)
			until = c->heap[0].due;
		wait_until(c, until);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int conns_start(struct conns *c)
{
	int rc = pthread_create(&c->thread, NULL, timer_main, c);

	if (rc != 0)
		return -rc;
	c->started = true;
	return 0;
}

void conns_drain(struct conns *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->draining = true;
	while (c->nheap > 0) {
		struct MHD_Connection *mc = heap_pop(c);

		pthread_mutex_unlock(&c->lock);
		MHD_resume_connection(mc);
		pthread_mutex_lock(&c->lock);
	}
	while (c->in_resume)
		pthread_cond_wait(&c->resumed, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void conns_free(struct conns *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		c->stopping = true;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	for (size_t i = 0; i < IP_BUCKETS; i++)
		while (c->ips[i]) {
			struct ip_count *n = c->ips[i]->next;

			free(c->ips[i]);
			c->ips[i] = n;
		}
	free(c->heap);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->resumed);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- per-IP counts (lock held) ---------------------------------------- */

/* The peer as 16 bytes (IPv4 mapped into IPv6), or false for peers the
 * per-IP limit leaves alone: every local client shares 127.0.0.1, so a
 * loopback limit would let one local user lock out the others. */
static bool peer_key(const struct sockaddr *sa, unsigned char key[16])
{
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if ((ntohl(in->sin_addr.s_addr) >> 24) == 127)
			return false;
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127))
			return false;
		memcpy(key, a, 16);
		return true;
	}
	return false;
}

static struct ip_count *ip_take(struct conns *c, const unsigned char key[16])
{
	uint32_t h = 2166136261u;
	struct ip_count *p;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	for (p = c->ips[h % IP_BUCKETS]; p; p = p->next)
		if (memcmp(p->addr, key, 16) == 0)
			break;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		memcpy(p->addr, key, 16);
		p->next = c->ips[h % IP_BUCKETS];
		c->ips[h % IP_BUCKETS] = p;
	}
	p->n++;
	return p;
}

static void ip_release(struct conns *c, struct ip_count *ip)
{
	uint32_t h = 2166136261u;

	if (--ip->n > 0)
		return;
	for (int i = 0; i < 16; i++)
		h = (h ^ ip->addr[i]) * 16777619u;
	for (struct ip_count **pp = &c->ips[h % IP_BUCKETS]; *pp; pp = &(*pp)->next)
		if (*pp == ip) {
			*pp = ip->next;
			free(ip);
			return;
		}
}

/* ---- notifications ---------------------------------------------------- */

void conns_opened(struct conns *c, int fd, const struct sockaddr *addr, void **ctx)
{
	struct conn *k = calloc(1, sizeof(*k));
	unsigned char key[16];

	*ctx = k;
	stats_conn(c->stats, STATS_CONN_OPENED);
	if (!k)
		return;         /* served without limits or deadline */
	k->fd = fd;
	k->state = CONN_WAITING;
	k->deadline = clock_mono_ms() + 1000LL * c->cfg.request_timeout_s;
	pthread_mutex_lock(&c->lock);
	if (++c->open > c->cfg.max_connections)
		k->over = true;
	if (c->cfg.per_ip && peer_key(addr, key) && (k->ip = ip_take(c, key)) &&
	    k->ip->n > c->cfg.per_ip)
		k->over = true;
	k->next = c->head;
	if (c->head)
		c->head->prev = k;
	c->head = k;
	pthread_mutex_unlock(&c->lock);
}

void conns_closed(struct conns *c, void **ctx)
{
	struct conn *k = *ctx;

	stats_conn(c->stats, STATS_CONN_CLOSED);
	if (!k)
		return;
	pthread_mutex_lock(&c->lock);
	c->open--;
	if (k->ip)
		ip_release(c, k->ip);
	if (k->prev)
		k->prev->next = k->next;
	else
		c->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&c->lock);
	free(k);
	*ctx = NULL;
}

void conns_notify(void *cls, struct MHD_Connection *mc, void **ctx,
		  enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd, *addr;

		fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		addr = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		conns_opened(cls, fd ? fd->connect_fd : -1, addr ? addr->client_addr : NULL, ctx);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conns_closed(cls, ctx);
	}
}

bool conns_request_begun(struct conns *c, struct conn *k)
{
	bool ok;

	if (!k)
		return true;
	pthread_mutex_lock(&c->lock);
	if (k->state == CONN_IDLE) {
		k->state = CONN_WAITING;
		k->deadline = clock_mono_ms() + 1000LL * c->cfg.request_timeout_s;
	}
	ok = !k->over;
	pthread_mutex_unlock(&c->lock);
	if (!ok)
		stats_conn(c->stats, STATS_CONN_REFUSED);
	return ok;
}

static void set_state(struct conns *c, struct conn *k, enum conn_state st)
{
	if (!k)
		return;
	pthread_mutex_lock(&c->lock);
	k->state = st;
	pthread_mutex_unlock(&c->lock);
}

void conns_request_read(struct conns *c, struct conn *k)
{
	set_state(c, k, CONN_SERVING);
}

void conns_request_streaming(struct conns *c, struct conn *k)
{
	set_state(c, k, CONN_RECEIVING);
}

void conns_request_done(struct conns *c, struct conn *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&c->lock);
	k->state = CONN_IDLE;
	k->deadline = clock_mono_ms() +
		      1000LL * (c->cfg.idle_timeout_s + c->cfg.request_timeout_s);
	pthread_mutex_unlock(&c->lock);
}

bool conns_delay(struct conns *c, struct MHD_Connection *mc, long ms)
{
	bool ok = false;

	pthread_mutex_lock(&c->lock);
	/* Suspended under the lock, so the timer (which pops under it) can
	 * never resume a connection before it is suspended. */
	if (!c->draining && heap_push(c, clock_mono_ms() + ms, mc) == 0) {
		MHD_suspend_connection(mc);
		if (c->heap[0].mc == mc)
			pthread_cond_signal(&c->wake);
		ok = true;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}
