/* info.json: what of a sandbox's JSON is shown (never a credential), and
 * its rendering, on first use, from a listed sandbox's raw bytes. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"
#include "model_priv.h"
#include "values.h"

/* Keys that carry credentials never reach info.json.  Runs for every key of
 * every listed sandbox, so it lowercases once and uses strstr rather than
 * five strcasestr scans. */
static bool tokenish(const char *key)
{
	static const char *const words[] = { "token", "secret", "password", "apikey", "api_key" };
	char low[64];
	size_t n = strlen(key);

	if (n >= sizeof(low)) {   /* rare: long keys take the slow path */
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcasestr(key, words[i]))
				return true;
		return false;
	}
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]))
			return true;
	return false;
}

/* True if v holds a token-ish key below it.  User metadata at the top
 * level is shown as is, so it is not searched. */
static bool has_tokens(json_t *v, bool top)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			if (top && strcmp(k, "metadata") == 0)
				continue;
			if (tokenish(k) || has_tokens(e, false))
				return true;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (has_tokens(e, false))
				return true;
	}
	return false;
}

/* Removes token-ish keys at every depth of v, which the caller owns. */
static void strip_tokens(json_t *v)
{
	const char *k;
	json_t *e;
	void *tmp;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach_safe(v, tmp, k, e) {
			if (tokenish(k))
				json_object_del(v, k);
			else
				strip_tokens(e);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			strip_tokens(e);
	}
}

char *model_public_json(const json_t *obj)
{
	json_t *copy = has_tokens((json_t *)obj, true) ? json_deep_copy(obj) : json_incref((json_t *)obj);
	const json_t *meta = json_object_get(obj, "metadata");
	char *text;

	if (!copy)
		return NULL;
	if (copy != obj) {
		strip_tokens(copy);
		if (meta)   /* user metadata is shown as is */
			json_object_set_new(copy, "metadata", json_deep_copy(meta));
	}
	text = json_dumps(copy, JSON_INDENT(2));
	json_decref(copy);
	return text;
}

/* An own write's state and end time, over what the JSON said. */
static void apply_overrides(const struct sbx *s, json_t *o)
{
	char t[SBX_TIME_LEN];

	if (s->state != SBX_STATE_UNKNOWN)
		json_object_set_new(o, "state", json_string(sbx_state_name(s->state)));
	if (s->end_at)
		json_object_set_new(o, "endAt", json_string(sbx_format_time(s->end_at, t)));
}

/* info.json from a listed sandbox's raw JSON: exactly what from_json()
 * renders from the object the list's parser made of the same bytes, with
 * an own write's overrides.  malloc'd; NULL on allocation failure (the
 * text parsed once already). */
static struct sbx_text *render_raw(const struct sbx *s)
{
	json_t *o = json_loadb(s->json_src, s->json_src_len, 0, NULL);
	struct sbx_text *t;
	char *text;
	size_t n;

	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	if (s->json_overrides)
		apply_overrides(s, o);
	text = model_public_json(o);
	json_decref(o);
	if (!text)
		return NULL;
	n = strlen(text);
	t = malloc(sizeof(*t) + n + 2);
	if (t) {
		memcpy(t->text, text, n);
		t->text[n] = '\n';
		t->text[n + 1] = '\0';
		t->len = n + 1;
	}
	free(text);
	return t;
}

const char *sbx_info_json(const struct sbx *s, size_t *len)
{
	struct sbx_text **memo, *t, *fresh;

	if (!s)
		return NULL;
	if (!s->json_raw) {
		if (len)
			*len = s->json_src_len;
		return s->json_src;
	}
	/* The memo is the one member set after the sbx is shared.  Threads
	 * that race here each render; the first to publish wins and the
	 * others free theirs, so readers never wait and never see a change.
	 * (Casting const away is sound: every sbx is malloc'd.) */
	memo = (struct sbx_text **)&s->info_memo;
	t = __atomic_load_n(memo, __ATOMIC_ACQUIRE);
	if (!t) {
		fresh = render_raw(s);
		if (!fresh)
			return NULL;
		if (__atomic_compare_exchange_n(memo, &t, fresh, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			t = fresh;
		else
			free(fresh);
	}
	if (len)
		*len = t->len;
	return t->text;
}
