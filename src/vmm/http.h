#pragma once
/*
 * The HTTP/1.1 subset the control API speaks (RFC 9112): requests framed by Content-Length,
 * keep-alive, pipelining; no chunked bodies, no trailers, no upgrades. A pure parser over the
 * connection's buffer (no I/O, no allocation), so that unit tests and the fuzz target feed it
 * anything in any split. Everything a client controls has a bound: the head (request line
 * and headers) HTTP_MAX_HEAD bytes, HTTP_MAX_HEADERS header lines, the body HTTP_MAX_BODY.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 8192U
#define HTTP_MAX_HEADERS 64U
#define HTTP_MAX_BODY 65536U
#define HTTP_MAX_PATH 256U

enum http_method {
	HTTP_GET,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_POST,
	HTTP_DELETE,
	HTTP_HEAD,
	HTTP_OTHER, /* a syntactically valid token hull does not serve: 405 */
	HTTP_METHOD_COUNT,
};

/* A complete request; the pointers point into the buffer given to http_parse. */
struct http_request {
	enum http_method method;
	const char *path; /* origin-form target without the query, not NUL-terminated */
	size_t path_len;
	const char *body;
	size_t body_len;
	bool keep_alive; /* HTTP/1.1 without "Connection: close", or 1.0 with keep-alive */
};

/*
 * Parser state kept between calls on one connection while a request arrives: where the search
 * for the end of the head stopped (so that a client sending a byte at a time costs O(n)),
 * and the head's parse once complete.
 */
struct http_parser {
	size_t scanned;   /* bytes of the buffer searched for the end of the head */
	size_t line_scanned; /* bytes searched for the end of the request line */
	bool line_ok;     /* the request line is complete and valid (garbage fails early) */
	size_t head_len;  /* 0 until the head is complete */
	size_t body_len;  /* Content-Length, once the head is complete */
	size_t path_off, path_len;
	enum http_method method;
	bool keep_alive;
	/* On an error: the status to answer (400, 411, 413, 431, 505) and why. */
	int status;
	const char *error;
};

void http_parser_reset(struct http_parser *p);

/*
 * Look for a complete request at the start of buf[0, len) (the connection's bytes not yet
 * consumed; the buffer may move between calls, its first bytes may not change). Returns the
 * request's length (head and body) with *req filled, 0 while it is incomplete, or -EBADMSG
 * when it cannot be one: p->status and p->error say what to answer, after which the
 * connection is closed (its framing is lost). Reset the parser after each request.
 */
int http_parse(struct http_parser *p, const char *buf, size_t len, struct http_request *req);

const char *http_method_name(enum http_method m);
/* The reason phrase of a status code hull sends ("Bad Request"...). */
const char *http_reason(int status);

/*
 * A response, heap-allocated (*ret_len bytes, no NUL counted): the status line, Server,
 * Content-Type application/json and Content-Length when a body is given (none for 204),
 * extra_headers as they are (each ending in CRLF, or NULL), "Connection: close" when close.
 */
char *http_response(int status, const char *body, const char *extra_headers, bool close,
		    size_t *ret_len);
