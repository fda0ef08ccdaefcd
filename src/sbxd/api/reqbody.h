/* Validation of request bodies against the API's schemas.  Each parser
 * either fills its output and returns 0, or returns -EINVAL with a message
 * for the client in err (a 400).  None touches server state. */
#ifndef SBXD_REQBODY_H
#define SBXD_REQBODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A validated NewSandbox.  Pointers borrow from `root`. */
struct create_req {
	json_t *root;                /* owned; freed by rb_create_free */
	const char *template_name;   /* templateID as given: ID or alias */
	unsigned timeout_s;
	bool auto_pause;
	int allow_internet;          /* -1 unset */
	const json_t *metadata;      /* NULL or string map */
	const json_t *env_vars;      /* NULL or string map */
};

int rb_parse_create(const char *body, size_t len, unsigned default_timeout,
		    unsigned max_timeout, struct create_req *out,
		    char *err, size_t errlen);
void rb_create_free(struct create_req *req);

/* SandboxTimeoutRequest: {"timeout": 0..max}, required. */
int rb_parse_timeout(const char *body, size_t len, unsigned max_timeout,
		     unsigned *timeout_s, char *err, size_t errlen);

/* ConnectSandbox: {"timeout": 0..max, "memory": bool}.  The spec marks
 * timeout required, but the SDKs' Sandbox.connect(id) (and so the CLI's
 * resume) send {} when the caller gives none, so an absent timeout (or an
 * absent body) means default_timeout. */
int rb_parse_connect(const char *body, size_t len, unsigned default_timeout,
		     unsigned max_timeout, unsigned *timeout_s, char *err, size_t errlen);

/* SandboxRefreshRequest: optional body, {"duration": 0..3600}; absent gives
 * `default_s`. */
int rb_parse_refresh(const char *body, size_t len, unsigned default_s,
		     unsigned *duration_s, char *err, size_t errlen);

/* SandboxPauseRequest: optional body, {"memory": bool}. */
int rb_parse_pause(const char *body, size_t len, char *err, size_t errlen);

/* ResumedSandbox: optional body, {"timeout": 0..max, "autoPause": bool};
 * absent timeout gives default_timeout. */
int rb_parse_resume(const char *body, size_t len, unsigned default_timeout,
		    unsigned max_timeout, unsigned *timeout_s, char *err, size_t errlen);

#endif
