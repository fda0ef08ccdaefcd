/* Cleaning a launcher's copy of the mount namespace; see nsclean.c. */
#ifndef SBXD_NSCLEAN_H
#define SBXD_NSCLEAN_H

/* Lazily detaches every FUSE mount of the calling process's mount
 * namespace, which must be a private copy of its own.  Best effort and
 * async-signal-safe: for a child between fork and exec. */
void nsclean_detach_fuse(void);

#endif
