/* The wire between sbxd and a sandbox's init (src/sbxd/init/).  Both ends
 * are AF_UNIX SOCK_SEQPACKET sockets, so every message arrives whole.
 *
 *   control socket (one per sandbox, fd 3 of init):
 *     init -> sbxd  IP_READY once it serves;
 *     sbxd -> init  IP_SPAWN with one descriptor: the process socket;
 *                   IP_STOPALL / IP_CONTALL (the SIGSTOP fallback of pause).
 *   process socket (one per process started):
 *     init -> sbxd  IP_STARTED with its pid (or err) and, on success, the
 *                   descriptors: stdin, stdout, stderr, or the pty master;
 *                   IP_EXITED with the wait status, then init closes it;
 *     sbxd -> init  IP_SIGNAL.
 *
 * Both programs come from one build, so the structs go as they are. */
#ifndef SBXD_INITPROTO_H
#define SBXD_INITPROTO_H

#include <stdint.h>

#define IP_CTL_FD 3             /* where init finds its control socket */
#define IP_MAX_MSG (128 * 1024) /* a spawn request at most (argv + env + cwd) */

enum ip_type {
	IP_READY = 1,
	IP_SPAWN,
	IP_STOPALL,
	IP_CONTALL,
	IP_STARTED,
	IP_EXITED,
	IP_SIGNAL,
};

struct ip_msg {
	uint32_t type;
	int32_t a, b;           /* STARTED: pid, errno; EXITED: status; SIGNAL: sig */
};

/* IP_SPAWN: this header, then argc + envc + 1 NUL-terminated strings:
 * argv..., env ("K=V")..., cwd. */
struct ip_spawn {
	uint32_t type;
	uint32_t uid, gid;
	uint16_t pty, cols, rows, pad;
	uint32_t argc, envc;
};

#endif
