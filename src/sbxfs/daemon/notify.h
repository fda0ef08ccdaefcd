/* The daemon and the service manager. */
#ifndef SBXFS_NOTIFY_H
#define SBXFS_NOTIFY_H

/* Sends state as one datagram to the AF_UNIX socket path (a leading '@'
 * is the abstract namespace), as sd_notify(3) does; NULL: nothing. */
void sd_notify_state(const char *path, const char *state);
/* Forks; the parent waits for tell_parent_ready() and exits 0, or exits
 * with the daemon's status if it gives up first.  In the daemon returns 0
 * with *ready_fd set; -1 (said on stderr) when it cannot fork. */
int daemonize(int *ready_fd);
/* Lets the waiting parent exit 0 and detaches stdout/stderr; *ready_fd
 * becomes -1.  Nothing when it is already -1 (in the foreground). */
void tell_parent_ready(int *ready_fd);

#endif
