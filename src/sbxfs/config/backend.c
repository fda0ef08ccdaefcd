/* Provider, URL, key and domain resolution; see backend.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/keyfile.h"

struct provider_vars {
	enum provider id;
	const char *name;
	const char *key_var, *url_var, *domain_var;
	const char *default_domain;
};

static const struct provider_vars novita = {
	PROVIDER_NOVITA, "novita", "NOVITA_API_KEY", "NOVITA_API_URL", "NOVITA_DOMAIN",
	SBXFS_NOVITA_DOMAIN,
};
static const struct provider_vars e2b = {
	PROVIDER_E2B, "e2b", "E2B_API_KEY", "E2B_API_URL", "E2B_DOMAIN", SBXFS_E2B_DOMAIN,
};

struct env {
	backend_getenv get;
	void *ctx;
};

const char *backend_provider_name(enum provider p)
{
	switch (p) {
	case PROVIDER_NOVITA: return "novita";
	case PROVIDER_E2B: return "e2b";
	case PROVIDER_CUSTOM: return "custom";
	default: return "embedded";
	}
}

static const char *env_get(const struct env *e, const char *name)
{
	const char *v = e->get(e->ctx, name);

	return v && v[0] ? v : NULL;
}

int read_key_file(const char *path, char **key, char **errmsg)
{
	int err = keyfile_read(path, key);

	if (err == -EINVAL) {
		if (asprintf(errmsg, "the API key file %s has no key on its first line", path) < 0)
			*errmsg = NULL;
	} else if (err == -ENOMEM) {
		*errmsg = strdup("out of memory");
	} else if (err < 0) {
		if (asprintf(errmsg, "cannot read the API key file %s: %s", path, strerror(-err)) < 0)
			*errmsg = NULL;
	}
	return err;
}

/* Which provider's variables apply; NULL for custom or embedded (told
 * apart by the caller).  *notice: a malloc'd word for the user, or NULL. */
static const struct provider_vars *pick(const struct sbxfs_opts *o, const struct env *e,
					char **notice)
{
	const struct provider_vars *pv = NULL;

	*notice = NULL;
	if (o->provider)
		return strcmp(o->provider, "e2b") == 0 ? &e2b : &novita;
	if (o->api_url)
		return NULL;
	if (o->api_key_file) {
		if (!env_get(e, novita.url_var) && !env_get(e, novita.domain_var) &&
		    (env_get(e, e2b.url_var) || env_get(e, e2b.domain_var)))
			*notice = strdup("-o api_key_file without -o provider means novita; "
					 "E2B_API_URL and E2B_DOMAIN are ignored "
					 "(add -o provider=e2b for E2B)");
		return &novita;
	}
	if (env_get(e, novita.key_var)) {
		pv = &novita;
		if (env_get(e, e2b.key_var))
			*notice = strdup("both NOVITA_API_KEY and E2B_API_KEY are set; using novita "
					 "(-o provider=e2b picks E2B)");
	} else if (env_get(e, e2b.key_var)) {
		pv = &e2b;
	}
	return pv;
}

/* With no key anywhere: embedded, unless a variable says a backend was
 * meant.  0 or -EINVAL with *errmsg. */
static int no_key(const struct env *e, char **errmsg)
{
	const struct provider_vars *const all[] = { &novita, &e2b };

	for (size_t i = 0; i < 2; i++) {
		const char *v = env_get(e, all[i]->url_var) ? all[i]->url_var
			      : env_get(e, all[i]->domain_var) ? all[i]->domain_var : NULL;

		if (v && asprintf(errmsg, "%s is set but %s is not: set the key, or -o "
				  "api_key_file=PATH", v, all[i]->key_var) < 0)
			*errmsg = NULL;
		if (v)
			return -EINVAL;
	}
	return 0;
}

/* A domain is a host name, perhaps with a port: it becomes part of URLs. */
static bool domain_valid(const char *d)
{
	for (const char *p = d; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':'))
			return false;
	return d[0] != '\0' && d[0] != '.' && d[0] != '-';
}

/* The key, from the file or the provider's variable.  0 or -errno. */
static int take_key(const struct sbxfs_opts *o, const struct env *e,
		    const struct provider_vars *pv, struct backend *b, char **errmsg)
{
	const char *v = pv ? env_get(e, pv->key_var) : NULL;

	if (o->api_key_file)
		return read_key_file(o->api_key_file, &b->key, errmsg);
	if (v)
		return (b->key = strdup(v)) ? 0 : -ENOMEM;
	if (pv && asprintf(errmsg, "no API key for provider %s: set %s or use -o "
			   "api_key_file=PATH", pv->name, pv->key_var) < 0)
		*errmsg = NULL;
	if (!pv && asprintf(errmsg, "no API key for %s: use -o api_key_file=PATH (or -o "
			    "provider=novita|e2b to send that provider's key variable)",
			    o->api_url) < 0)
		*errmsg = NULL;
	return -EINVAL;
}

/* URL and domain of provider pv (NULL: custom, o->api_url). */
static int take_url(const struct sbxfs_opts *o, const struct env *e,
		    const struct provider_vars *pv, struct backend *b, char **errmsg)
{
	const char *url = o->api_url, *domain = NULL;
	size_t n;

	if (pv) {
		domain = env_get(e, pv->domain_var);
		if (domain && !domain_valid(domain)) {
			if (asprintf(errmsg, "bad %s '%s': expected a host name", pv->domain_var,
				     domain) < 0)
				*errmsg = NULL;
			return -EINVAL;
		}
		if (!domain)
			domain = pv->default_domain;
		if ((b->domain = strdup(domain)) == NULL)
			return -ENOMEM;
		if (!url)
			url = env_get(e, pv->url_var);
	}
	if (url)
		b->url = strdup(url);
	else if (asprintf(&b->url, "https://api.%s", domain) < 0)
		b->url = NULL;
	if (b->url == NULL)
		return -ENOMEM;
	n = strlen(b->url);
	while (n > 0 && b->url[n - 1] == '/')
		b->url[--n] = '\0';
	return 0;
}

int backend_resolve_env(const struct sbxfs_opts *o, backend_getenv getenv_fn, void *ctx,
			struct backend *b, char **errmsg)
{
	const struct env e = { getenv_fn, ctx };
	const struct provider_vars *pv;
	int err;

	memset(b, 0, sizeof(*b));
	*errmsg = NULL;
	if (o->provider && strcmp(o->provider, "novita") != 0 && strcmp(o->provider, "e2b") != 0) {
		if (asprintf(errmsg, "bad provider '%s': expected novita or e2b", o->provider) < 0)
			*errmsg = NULL;
		err = -EINVAL;
		goto fail;
	}
	pv = pick(o, &e, &b->notice);
	if (!pv && !o->api_url) {
		err = no_key(&e, errmsg);
		if (err < 0)
			goto fail;
		b->embedded = true;
		return 0;
	}
	b->provider = pv ? pv->id : PROVIDER_CUSTOM;
	if ((err = take_key(o, &e, pv, b, errmsg)) < 0 ||
	    (err = take_url(o, &e, pv, b, errmsg)) < 0)
		goto fail;
	return 0;
fail:
	backend_clear(b);
	if (*errmsg == NULL)
		*errmsg = strdup("out of memory");
	return err;
}

static const char *process_env(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

int backend_resolve(const struct sbxfs_opts *o, struct backend *b, char **errmsg)
{
	return backend_resolve_env(o, process_env, NULL, b, errmsg);
}

void backend_clear(struct backend *b)
{
	if (b->key)
		explicit_bzero(b->key, strlen(b->key));
	free(b->key);
	free(b->url);
	free(b->domain);
	free(b->notice);
	memset(b, 0, sizeof(*b));
}
