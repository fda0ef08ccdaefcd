/* The whole registry as one JSON document, and back; see registry.h. */
#include "registry/reg_priv.h"

#include <errno.h>
#include <stdio.h>

json_t *reg_dump(struct reg *r)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(arr, model_sandbox_json(r->by_seq[i], SBX_VIEW_STORED));
	json_t *doc = json_pack("{s:i, s:I, s:o}", "version", 1,
				"nextSeq", (json_int_t)r->next_seq, "sandboxes", arr);
	pthread_mutex_unlock(&r->lock);
	return doc;
}

static int restore_fail(char **err, const char *msg, size_t idx)
{
	if (err && asprintf(err, "%s (entry %zu)", msg, idx) < 0)
		*err = NULL;
	return -EINVAL;
}

int reg_restore(struct reg *r, const json_t *doc, int64_t now_ms, char **err)
{
	const json_t *arr = json_object_get(doc, "sandboxes");
	const json_t *next = json_object_get(doc, "nextSeq");
	const json_t *o;
	size_t i;
	int kept = 0, rc = 0;

	if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) != 1 ||
	    !json_is_array(arr) || !json_is_integer(next))
		return restore_fail(err, "not an sbxd state document", 0);
	pthread_mutex_lock(&r->lock);
	json_array_foreach(arr, i, o) {
		struct sandbox *sb = model_sandbox_from_stored(o);

		if (!sb) {
			rc = restore_fail(err, "malformed sandbox", i);
			break;
		}
		if (store_find(r, sb->id) || store_find_seq(r, sb->seq)) {
			model_sandbox_free(sb);
			rc = restore_fail(err, "duplicate sandbox", i);
			break;
		}
		if (sb->seq >= r->next_seq)
			r->next_seq = sb->seq + 1;
		/* Ended while sbxd was down: expire it now, as the timer would have. */
		if (!sb->paused && sb->end_ms <= now_ms) {
			if (!sb->auto_pause) {
				model_sandbox_free(sb);
				continue;
			}
			sb->paused = true;
		}
		if (store_link(r, sb) < 0) {
			model_sandbox_free(sb);
			rc = -ENOMEM;
			break;
		}
		kept++;
	}
	if ((uint64_t)json_integer_value(next) > r->next_seq)
		r->next_seq = (uint64_t)json_integer_value(next);
	change_notify(r);
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : kept;
}

