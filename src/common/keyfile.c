/* Key files; see keyfile.h. */
#include "common/keyfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int keyfile_read(const char *path, char **key)
{
	char line[KEYFILE_LINE_MAX];
	FILE *f = fopen(path, "re");
	size_t start = 0, end;
	int rc = 0;

	*key = NULL;
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		if (ferror(f))
			rc = errno ? -errno : -EIO;
		line[0] = '\0';
	}
	fclose(f);
	if (rc < 0)
		goto out;
	end = strcspn(line, "\r\n");
	while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	while (start < end && (line[start] == ' ' || line[start] == '\t'))
		start++;
	if (start == end) {
		rc = -EINVAL;
		goto out;
	}
	*key = strndup(line + start, end - start);
	if (!*key)
		rc = -ENOMEM;
out:
	explicit_bzero(line, sizeof(line));
	return rc;
}

bool keyfile_is_private(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() &&
	       (st.st_mode & 077) == 0;
}
