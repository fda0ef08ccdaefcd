/* Path routing; see router.h. */
#include "api/router.h"

#include "base/util.h"

#include <stdio.h>
#include <string.h>

static const char *const templates[RT_COUNT] = {
	[RT_HEALTH] = "/health",
	[RT_SANDBOXES] = "/sandboxes",
	[RT_V2_SANDBOXES] = "/v2/sandboxes",
	[RT_SANDBOX] = "/sandboxes/{id}",
	[RT_SANDBOX_TIMEOUT] = "/sandboxes/{id}/timeout",
	[RT_SANDBOX_REFRESHES] = "/sandboxes/{id}/refreshes",
	[RT_SANDBOX_PAUSE] = "/sandboxes/{id}/pause",
	[RT_SANDBOX_RESUME] = "/sandboxes/{id}/resume",
	[RT_SANDBOX_CONNECT] = "/sandboxes/{id}/connect",
	[RT_V2_SANDBOX_CONNECT] = "/v2/sandboxes/{id}/connect",
	[RT_SANDBOX_METRICS] = "/sandboxes/{id}/metrics",
	[RT_SANDBOX_LOGS] = "/sandboxes/{id}/logs",
	[RT_V2_SANDBOX_LOGS] = "/v2/sandboxes/{id}/logs",
	[RT_TEMPLATES] = "/templates",
	[RT_SBXD_STATS] = "/sbxd/stats",
	[RT_SBXD_FAULTS] = "/sbxd/faults",
};

static const struct {
	const char *suffix;
	enum route_id id;
} actions[] = {
	{ "timeout", RT_SANDBOX_TIMEOUT },
	{ "refreshes", RT_SANDBOX_REFRESHES },
	{ "pause", RT_SANDBOX_PAUSE },
	{ "resume", RT_SANDBOX_RESUME },
	{ "connect", RT_SANDBOX_CONNECT },
	{ "metrics", RT_SANDBOX_METRICS },
	{ "logs", RT_SANDBOX_LOGS },
};

const char *router_template(enum route_id id)
{
	return id >= 0 && id < RT_COUNT ? templates[id] : NULL;
}

bool router_is_internal(const char *path)
{
	return strncmp(path, "/sbxd/", 6) == 0 || strcmp(path, "/sbxd") == 0;
}

bool router_is_list(const char *method, enum route_id id)
{
	return strcmp(method, "GET") == 0 && (id == RT_SANDBOXES || id == RT_V2_SANDBOXES ||
					      id == RT_TEMPLATES);
}

/* Copies the segment [s, e) as the sandbox ID and judges it. */
static void take_id(struct route_match *m, const char *s, size_t len)
{
	size_t n = len < sizeof(m->sandbox_id) - 1 ? len : sizeof(m->sandbox_id) - 1;

	memcpy(m->sandbox_id, s, n);
	m->sandbox_id[n] = '\0';
	m->id_ok = len < sizeof(m->sandbox_id) && util_valid_id(m->sandbox_id);
}

/* Matches "{id}" or "{id}/<action>" after a "/sandboxes/" prefix. */
static enum route_id match_sandbox(const char *rest, bool v2, struct route_match *m)
{
	const char *slash = strchr(rest, '/');

	if (!slash) {
		if (v2 || *rest == '\0')
			return RT_NONE;
		take_id(m, rest, strlen(rest));
		return RT_SANDBOX;
	}
	if (slash == rest)
		return RT_NONE;
	for (size_t i = 0; i < sizeof(actions) / sizeof(*actions); i++) {
		if (strcmp(slash + 1, actions[i].suffix) != 0)
			continue;
		/* v2 has only these two. */
		if (v2 && actions[i].id != RT_SANDBOX_CONNECT && actions[i].id != RT_SANDBOX_LOGS)
			return RT_NONE;
		take_id(m, rest, (size_t)(slash - rest));
		if (v2)
			return actions[i].id == RT_SANDBOX_LOGS ? RT_V2_SANDBOX_LOGS
								: RT_V2_SANDBOX_CONNECT;
		return actions[i].id;
	}
	return RT_NONE;
}

enum route_id router_match(const char *path, struct route_match *m)
{
	memset(m, 0, sizeof(*m));
	m->id = RT_NONE;
	for (int i = 0; i < RT_COUNT; i++)
		if (strchr(templates[i], '{') == NULL && strcmp(path, templates[i]) == 0)
			return m->id = (enum route_id)i;
	if (strncmp(path, "/sandboxes/", 11) == 0)
		m->id = match_sandbox(path + 11, false, m);
	else if (strncmp(path, "/v2/sandboxes/", 14) == 0)
		m->id = match_sandbox(path + 14, true, m);
	return m->id;
}
