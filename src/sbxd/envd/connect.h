/* The Connect protocol as the SDKs speak it (JSON only): error codes and
 * their HTTP statuses, and the envelope framing of server streams (one
 * flags byte, a big-endian 32-bit length, the JSON).  Pure functions on
 * bytes; no server state. */
#ifndef SBXD_ENVD_CONNECT_H
#define SBXD_ENVD_CONNECT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CX_FLAG_COMPRESSED 0x01
#define CX_FLAG_END 0x02
#define CX_HEADER 5

/* The largest request message accepted, unary body or envelope. */
#define CX_MAX_MESSAGE (1u << 20)

/* The HTTP status for a Connect code ("not_found" -> 404); 500 for codes
 * the protocol does not define. */
int cx_code_status(const char *code);

/* The Connect code for an -errno of the file work (-ENOENT -> "not_found"). */
const char *cx_errno_code(int err);

/* A new {"code":..., "message":...} object (caller owns); NULL on ENOMEM. */
json_t *cx_error_json(const char *code, const char *msg);

/* Parses one envelope at the start of buf.  0 with *flags, *msg (pointing
 * into buf) and *msglen, and *used = its total size; -EAGAIN when buf holds
 * only part of it; -EMSGSIZE when it declares more than `max`. */
int cx_envelope_parse(const unsigned char *buf, size_t len, size_t max, uint8_t *flags,
		      const unsigned char **msg, size_t *msglen, size_t *used);

/* The single envelope of a server-stream request body, decoded: 0 and
 * *out (caller owns, an object), -EINVAL with a message in err (malformed,
 * compressed, trailing bytes, not an object), -EMSGSIZE. */
int cx_request_message(const unsigned char *body, size_t len, json_t **out, char *err,
		       size_t errlen);

/* Frames `json` (compact) as one envelope: malloc'd bytes (caller frees)
 * and *len, or NULL on ENOMEM. */
unsigned char *cx_frame(uint8_t flags, const json_t *json, size_t *len);

/* The end-of-stream envelope: {} when code is NULL, else the error. */
unsigned char *cx_frame_end(const char *code, const char *msg, size_t *len);

/* Proto3 bytes in JSON are base64: common/b64.h. */

#endif
