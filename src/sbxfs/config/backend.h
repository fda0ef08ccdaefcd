/* Where the sandboxes come from: a provider, its API URL, its key and its
 * domain, resolved from -o options and the environment.
 *
 * A key is only ever sent where its owner meant it to go:
 *  - -o provider=novita|e2b names the provider: its key variable (unless
 *    -o api_key_file), its URL and domain variables, its defaults; an
 *    -o api_url still wins for the URL.
 *  - -o api_url without -o provider is provider "custom": the key comes
 *    from -o api_key_file only, never from a provider's variable.
 *  - -o api_key_file alone is provider novita (its variables and defaults).
 *  - Otherwise NOVITA_API_KEY picks novita with NOVITA_API_URL and
 *    NOVITA_DOMAIN, else E2B_API_KEY picks e2b with E2B_API_URL and
 *    E2B_DOMAIN; one provider's URL or domain never goes with the other's
 *    key.  Both keys set: novita, and a notice says so.
 *  - Nothing set: the embedded private sbxd.  A URL or domain variable
 *    without its key is an error.
 * Empty variables count as unset.  The API URL, when not given, is
 * https://api.<domain>; the domains default to us-phx-1.sandbox.novita.ai
 * and e2b.app. */
#ifndef SBXFS_BACKEND_H
#define SBXFS_BACKEND_H

#include <stdbool.h>

#include "options.h"

#define SBXFS_NOVITA_DOMAIN "us-phx-1.sandbox.novita.ai"
#define SBXFS_E2B_DOMAIN "e2b.app"

enum provider { PROVIDER_EMBEDDED, PROVIDER_NOVITA, PROVIDER_E2B, PROVIDER_CUSTOM };

struct backend {
	enum provider provider;
	char *url;        /* malloc'd, no trailing '/'; NULL when embedded (set
	                   * once it listens) */
	char *key;        /* malloc'd; NULL when embedded */
	char *domain;     /* malloc'd: what the provider's sandboxes' own services
	                   * are reached under; NULL for custom and embedded */
	char *notice;     /* malloc'd: to tell the user once (stderr), or NULL */
	bool embedded;    /* nothing configured: run a private sbxd */
};

/* "novita", "e2b", "custom" or "embedded". */
const char *backend_provider_name(enum provider p);

/* The environment as backend_resolve_env() sees it: the value of name or
 * NULL (borrowed, valid during the call). */
typedef const char *(*backend_getenv)(void *ctx, const char *name);

/* Resolves o (its api_url, api_key_file and provider) and the variables
 * getenv reports, by the rules above; reads the key file, nothing else.
 * 0 with *b filled (backend_clear it), or -errno with a malloc'd message
 * in *errmsg (caller frees) and *b empty. */
int backend_resolve_env(const struct sbxfs_opts *o, backend_getenv getenv, void *ctx,
			struct backend *b, char **errmsg);
/* backend_resolve_env() over the process environment. */
int backend_resolve(const struct sbxfs_opts *o, struct backend *b, char **errmsg);
void backend_clear(struct backend *b);

/* Reads the key from the first line of path, trimmed.  0 and a malloc'd
 * key, or -errno and a malloc'd message. */
int read_key_file(const char *path, char **key, char **errmsg);

#endif
