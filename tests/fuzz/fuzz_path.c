/* libFuzzer target: the path layer (path_parse) and the name checks
 * (sbx_name_valid, sbx_component_valid, path_tpl_name_valid).  Every span
 * must point inside the parsed path, and what the parser accepts must
 * satisfy the documented grammar; path_format gives back a path that
 * parses to the same node. */
#include <errno.h>
#include <limits.h>

#include "fuzz.h"
#include "fs/path.h"
#include "model/values.h"

static void check_span(const char *path, size_t plen, struct path_span s)
{
	char buf[NAME_MAX + 1];

	if (!s.p)
		return;
	FUZZ_CHECK(s.p >= path && s.p + s.len <= path + plen);
	FUZZ_CHECK(memchr(s.p, '/', s.len) == NULL);
	if (path_span_copy(s, buf, sizeof(buf)) == 0) {
		FUZZ_CHECK(strlen(buf) == s.len);
		FUZZ_CHECK(path_span_eq(s, buf));
	}
}

static bool name_grammar(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

static bool same_span(struct path_span a, struct path_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* The canonical path is never longer than the parsed one. */
static void check_round_trip(const struct path_node *n, size_t plen)
{
	char *buf = malloc(plen + 2);
	struct path_node m;
	int len;

	FUZZ_CHECK(buf != NULL);
	len = path_format(n, buf, plen + 2);
	FUZZ_CHECK(len >= 1 && (size_t)len <= plen && strlen(buf) == (size_t)len);
	FUZZ_CHECK(path_parse(buf, &m) == 0);
	FUZZ_CHECK(m.kind == n->kind && same_span(m.sbx, n->sbx) && same_span(m.tpl, n->tpl) &&
		   same_span(m.key, n->key) && same_span(m.rest, n->rest) &&
		   same_span(m.proc, n->proc));
	FUZZ_CHECK(n->kind != PATH_SBX_FILE || m.file == n->file);
	FUZZ_CHECK(n->kind != PATH_PROC_FILE || m.pfile == n->pfile);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	size_t slen = strlen(s);
	struct path_node n;
	int r;

	FUZZ_CHECK(sbx_name_valid(s) == name_grammar(s));
	if (sbx_name_valid(s))
		FUZZ_CHECK(sbx_component_valid(s));
	if (sbx_component_valid(s))
		FUZZ_CHECK(slen > 0 && slen <= NAME_MAX && !strchr(s, '/') &&
			   strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
	if (path_tpl_name_valid(s, slen))
		FUZZ_CHECK(slen > 0 && slen <= 128 && !strchr(s, '/'));

	memset(&n, 0, sizeof(n));
	r = path_parse(s, &n);
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
	if (r == 0) {
		FUZZ_CHECK(s[0] == '/');
		FUZZ_CHECK(n.kind >= PATH_ROOT && n.kind <= PATH_PROC_FILE);
		check_span(s, slen, n.sbx);
		check_span(s, slen, n.proc);
		if (n.kind == PATH_PROC || n.kind == PATH_PROC_FILE)
			FUZZ_CHECK(n.proc.len > 0 && n.proc.p[0] != '.');
		if (n.kind == PATH_PROC_FILE)
			FUZZ_CHECK(n.pfile < PROC_FILE_COUNT && path_proc_file_name(n.pfile)[0]);
		check_span(s, slen, n.tpl);
		check_span(s, slen, n.key);
		if (n.kind == PATH_SBX_FILE) {
			FUZZ_CHECK(n.file < SBX_FILE_COUNT);
			FUZZ_CHECK(path_sbx_file_name(n.file) != NULL);
			(void)path_sbx_file_writable(n.file);
		}
		(void)path_is_dir(n.kind);
		(void)path_in_sbx(n.kind);
		check_round_trip(&n, slen);
	} else if (s[0] != '/') {
		FUZZ_CHECK(r == -EINVAL);
	}
	free(s);
	return 0;
}
