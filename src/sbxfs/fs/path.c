/* Path parsing for the mount's tree; see path.h for the grammar. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "node.h"
#include "path.h"

/* The names and the writable ones come from the node table's entry of
 * each file (nodes/sbx_file.c), so a new file is one entry there. */
const char *path_sbx_file_name(enum sbx_file f)
{
	const struct sbx_file_def *d = sbx_file_def(f);

	return d ? d->name : "";
}

bool path_sbx_file_writable(enum sbx_file f)
{
	const struct sbx_file_def *d = sbx_file_def(f);

	return d && d->write;
}

const char *path_proc_file_name(enum proc_file f)
{
	static const char *const names[PROC_FILE_COUNT] = {
		[PROC_FILE_CMD] = "cmd", [PROC_FILE_CWD] = "cwd", [PROC_FILE_ENV] = "env",
		[PROC_FILE_USER] = "user", [PROC_FILE_PID] = "pid", [PROC_FILE_STATUS] = "status",
		[PROC_FILE_EXIT] = "exit", [PROC_FILE_STDOUT] = "stdout",
		[PROC_FILE_STDERR] = "stderr", [PROC_FILE_STDIN] = "stdin",
		[PROC_FILE_STDIN_CLOSE] = "stdin_close", [PROC_FILE_SIGNAL] = "signal",
	};

	return (unsigned)f < PROC_FILE_COUNT ? names[f] : "";
}

bool path_span_eq(struct path_span a, const char *s)
{
	size_t n = strlen(s);

	return a.len == n && memcmp(a.p, s, n) == 0;
}

struct path_span path_span_of(const char *s)
{
	return (struct path_span){ .p = s, .len = strlen(s) };
}

int path_span_copy(struct path_span s, char *buf, size_t size)
{
	if (s.len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	return 0;
}

bool path_is_dir(enum path_kind kind)
{
	switch (kind) {
	case PATH_ROOT:
	case PATH_SBX:
	case PATH_META_DIR:
	case PATH_CTL:
	case PATH_TPL_ROOT:
	case PATH_TPL:
	case PATH_PROCS:
	case PATH_PROC:
		return true;
	default:
		return false;
	}
}

bool path_in_sbx(enum path_kind kind)
{
	return kind == PATH_SBX || kind == PATH_SBX_FILE ||
	       kind == PATH_META_DIR || kind == PATH_META_FILE || kind == PATH_SBX_FS ||
	       kind == PATH_PROCS || kind == PATH_PROC || kind == PATH_PROC_FILE;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool path_tpl_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > 128 || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];

		if (!is_alnum(c) && c != '.' && c != '_' && c != '-' && c != ':')
			return false;
	}
	return true;
}

/* Splits off the next component of *rest (which starts after a '/'). */
static bool next_component(const char **rest, struct path_span *out)
{
	const char *p = *rest;
	const char *slash;

	if (p == NULL || *p == '\0')
		return false;
	slash = strchr(p, '/');
	out->p = p;
	out->len = slash ? (size_t)(slash - p) : strlen(p);
	*rest = slash ? slash + 1 : NULL;
	return true;
}

/* A component the tree can hold at all: not empty, not "." or "..", at
 * most NAME_MAX bytes. */
static bool component_ok(struct path_span c)
{
	if (c.len == 0 || c.len > NAME_MAX)
		return false;
	if (c.p[0] == '.' && (c.len == 1 || (c.len == 2 && c.p[1] == '.')))
		return false;
	return true;
}

/* The sandbox's own files: rest is what follows "fs/" (NULL for "fs"),
 * taken whole as the remote path once each component is checked. */
static int parse_fs(const char *rest, struct path_node *out)
{
	const char *from = rest ? rest - 1 : NULL;
	struct path_span c;

	out->kind = PATH_SBX_FS;
	out->rest = (struct path_span){ .p = "", .len = 0 };
	if (rest == NULL || *rest == '\0')
		return 0;
	while (next_component(&rest, &c))
		if (!component_ok(c))
			return -ENOENT;
	out->rest = path_span_of(from);
	while (out->rest.len > 1 && out->rest.p[out->rest.len - 1] == '/')
		out->rest.len--;   /* "fs/a/" is "fs/a", as "/x/" is "/x" */
	return 0;
}

/* What follows "procs": "", "<proc>", "<proc>/<file>".  A process name
 * never starts with a dot (probes such as .git stay off the network). */
static int parse_procs(const char *rest, struct path_node *out)
{
	struct path_span c;

	out->kind = PATH_PROCS;
	if (!next_component(&rest, &c))
		return 0;
	if (!component_ok(c) || c.p[0] == '.')
		return -ENOENT;
	out->kind = PATH_PROC;
	out->proc = c;
	if (!next_component(&rest, &c))
		return 0;
	if (rest != NULL)
		return -ENOENT;
	for (int f = 0; f < PROC_FILE_COUNT; f++)
		if (path_span_eq(c, path_proc_file_name((enum proc_file)f))) {
			out->kind = PATH_PROC_FILE;
			out->pfile = (enum proc_file)f;
			return 0;
		}
	return -ENOENT;
}

/* Parses what follows a sandbox component: "", "<file>", "metadata",
 * "metadata/<key>", "fs/...", "procs/...". */
static int parse_in_sbx(const char *rest, struct path_node *out)
{
	struct path_span c;

	if (!next_component(&rest, &c)) {
		out->kind = PATH_SBX;
		return 0;
	}
	if (!component_ok(c))
		return -ENOENT;
	if (path_span_eq(c, PATH_FS_NAME))
		return parse_fs(rest, out);
	if (path_span_eq(c, PATH_PROCS_NAME))
		return parse_procs(rest, out);
	if (path_span_eq(c, PATH_META_NAME)) {
		if (!next_component(&rest, &c)) {
			out->kind = PATH_META_DIR;
			return 0;
		}
		if (!component_ok(c) || rest != NULL)
			return -ENOENT;
		out->kind = PATH_META_FILE;
		out->key = c;
		return 0;
	}
	if (rest != NULL)
		return -ENOENT;
	for (int f = 0; f < SBX_FILE_COUNT; f++) {
		if (path_span_eq(c, path_sbx_file_name((enum sbx_file)f))) {
			out->kind = PATH_SBX_FILE;
			out->file = (enum sbx_file)f;
			return 0;
		}
	}
	return -ENOENT;
}

/* A sandbox component: a name or an ID.  Neither starts with a dot, which
 * keeps probes such as .Trash or .git off the network. */
static int parse_sbx(struct path_span c, const char *rest, struct path_node *out)
{
	if (!component_ok(c) || c.p[0] == '.')
		return -ENOENT;
	out->sbx = c;
	return parse_in_sbx(rest, out);
}

static int parse_ctl(const char *rest, struct path_node *out)
{
	struct path_span c;

	if (!next_component(&rest, &c)) {
		out->kind = PATH_CTL;
		return 0;
	}
	if (path_span_eq(c, "status") || path_span_eq(c, "refresh")) {
		if (rest != NULL)
			return -ENOENT;
		out->kind = c.p[0] == 's' ? PATH_CTL_STATUS : PATH_CTL_REFRESH;
		return 0;
	}
	if (!path_span_eq(c, "templates"))
		return -ENOENT;
	if (!next_component(&rest, &c)) {
		out->kind = PATH_TPL_ROOT;
		return 0;
	}
	if (!path_tpl_name_valid(c.p, c.len))
		return -ENOENT;
	out->tpl = c;
	if (!next_component(&rest, &c)) {
		out->kind = PATH_TPL;
		return 0;
	}
	return parse_sbx(c, rest, out);
}

int path_parse(const char *path, struct path_node *out)
{
	struct path_span c;
	const char *rest;

	memset(out, 0, sizeof(*out));
	if (path == NULL || path[0] != '/')
		return -EINVAL;
	rest = path + 1;
	if (!next_component(&rest, &c)) {
		out->kind = PATH_ROOT;
		return 0;
	}
	if (path_span_eq(c, PATH_CTL_NAME))
		return parse_ctl(rest, out);
	return parse_sbx(c, rest, out);
}

/* A path being built: each piece is "/" and a component; err sticks. */
struct builder {
	char *buf;
	size_t size, at;
	int err;
};

static void put_component(struct builder *b, const char *s, size_t len)
{
	if (b->err)
		return;
	if (len == 0 || memchr(s, '/', len)) {
		b->err = -EINVAL;
	} else if (b->at + 1 + len >= b->size) {
		b->err = -ENAMETOOLONG;
	} else {
		b->buf[b->at++] = '/';
		memcpy(b->buf + b->at, s, len);
		b->at += len;
		b->buf[b->at] = '\0';
	}
}

static void put_str(struct builder *b, const char *s)
{
	put_component(b, s, strlen(s));
}

static void put_span(struct builder *b, struct path_span s)
{
	put_component(b, s.p, s.len);
}

/* The remote path of a PATH_SBX_FS node, one component at a time. */
static void put_rest(struct builder *b, struct path_span rest)
{
	const char *p = rest.p, *end = rest.p + rest.len;

	if (rest.len && p[0] != '/')
		b->err = -EINVAL;
	while (!b->err && p < end) {
		const char *c = p + 1, *slash = memchr(c, '/', (size_t)(end - c));
		const char *stop = slash ? slash : end;

		put_component(b, c, (size_t)(stop - c));
		p = stop;
	}
}

/* A sandbox node: the templates prefix when reached through one, the
 * sandbox, then what is below it. */
static void format_in_sbx(const struct path_node *n, struct builder *b)
{
	if (n->tpl.len > 0) {
		put_str(b, PATH_CTL_NAME);
		put_str(b, "templates");
		put_span(b, n->tpl);
	}
	put_span(b, n->sbx);
	if (n->kind == PATH_SBX_FILE)
		put_str(b, path_sbx_file_name(n->file));
	if (n->kind == PATH_META_DIR || n->kind == PATH_META_FILE)
		put_str(b, PATH_META_NAME);
	if (n->kind == PATH_META_FILE)
		put_span(b, n->key);
	if (n->kind == PATH_SBX_FS) {
		put_str(b, PATH_FS_NAME);
		put_rest(b, n->rest);
	}
	if (n->kind == PATH_PROCS || n->kind == PATH_PROC || n->kind == PATH_PROC_FILE)
		put_str(b, PATH_PROCS_NAME);
	if (n->kind == PATH_PROC || n->kind == PATH_PROC_FILE)
		put_span(b, n->proc);
	if (n->kind == PATH_PROC_FILE)
		put_str(b, path_proc_file_name(n->pfile));
}

int path_format(const struct path_node *n, char *buf, size_t size)
{
	struct builder b = { .buf = buf, .size = size };

	if (size < 2)
		return -ENAMETOOLONG;
	strcpy(buf, "/");
	if (n->kind == PATH_ROOT)
		return 1;
	buf[0] = '\0';
	if (path_in_sbx(n->kind)) {
		format_in_sbx(n, &b);
	} else if (n->kind >= PATH_CTL && n->kind <= PATH_TPL) {
		put_str(&b, PATH_CTL_NAME);
		if (n->kind == PATH_CTL_STATUS)
			put_str(&b, "status");
		else if (n->kind == PATH_CTL_REFRESH)
			put_str(&b, "refresh");
		else if (n->kind != PATH_CTL)
			put_str(&b, "templates");
		if (n->kind == PATH_TPL)
			put_span(&b, n->tpl);
	} else {
		b.err = -EINVAL;
	}
	if (b.err)
		buf[0] = '\0';
	return b.err ? b.err : (int)b.at;
}
