/* Typed open handles; see handle.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"

struct snap *snap_new(char *text, size_t len)
{
	struct snap *sn = malloc(sizeof(*sn) + len);

	if (sn) {
		memset(sn, 0, sizeof(*sn));
		sn->len = len;
		memcpy(sn->data, text, len);
	}
	free(text);
	return sn;
}

struct open_file *open_file_new(const struct node_ops *ops, const struct path_node *n,
				    const char *sbx_id, struct snap *snap)
{
	struct open_file *h = calloc(1, sizeof(*h));

	if (h == NULL || (sbx_id && (h->pin.sbx_id = strdup(sbx_id)) == NULL)) {
		free(h);
		free(snap);
		return NULL;
	}
	h->type = HANDLE_FILE;
	h->ops = ops;
	h->node.kind = n->kind;
	h->node.file = n->file;
	h->snap = snap;
	return h;
}

void open_file_free(struct open_file *h)
{
	if (h == NULL)
		return;
	free(h->pin.sbx_id);
	free(h->pin.remote_path);
	free(h->snap);
	free(h);
}

struct open_file *open_file_of(const struct fuse_file_info *fi)
{
	struct open_file *h = fi ? (struct open_file *)(uintptr_t)fi->fh : NULL;

	return h && h->type == HANDLE_FILE ? h : NULL;
}

struct dir_handle *dir_handle_of(const struct fuse_file_info *fi)
{
	struct dir_handle *h = fi ? (struct dir_handle *)(uintptr_t)fi->fh : NULL;

	return h && h->type == HANDLE_DIR ? h : NULL;
}
