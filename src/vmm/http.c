/* The control API's HTTP/1.1 request parser and response writer (http.h). */
#include "vmm/http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"

void http_parser_reset(struct http_parser *p)
{
	memset(p, 0, sizeof(*p));
}

static int fail(struct http_parser *p, int status, const char *why)
{
	p->status = status;
	p->error = why;
	return -EBADMSG;
}

/* RFC 9110 5.6.2: token characters. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar(s[i]))
			return false;
	return true;
}

static bool eq_nocase(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static enum http_method method_of(const char *s, size_t n)
{
	static const char *const names[] = { "GET", "PUT", "PATCH", "POST", "DELETE", "HEAD" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0)
			return (enum http_method)i;
	return HTTP_OTHER;
}

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return "GET";
	case HTTP_PUT: return "PUT";
	case HTTP_PATCH: return "PATCH";
	case HTTP_POST: return "POST";
	case HTTP_DELETE: return "DELETE";
	case HTTP_HEAD: return "HEAD";
	case HTTP_OTHER:
	case HTTP_METHOD_COUNT:
	default: return "?";
	}
}

/* "METHOD SP /target SP HTTP/1.x" (RFC 9112 3). */
static int parse_request_line(struct http_parser *p, const char *buf, size_t n, bool *ret_v10)
{
	const char *sp1 = memchr(buf, ' ', n), *sp2, *q;
	size_t target_len;

	if (!sp1 || !is_token(buf, (size_t)(sp1 - buf)) || sp1 - buf > 16)
		return fail(p, 400, "malformed request line");
	p->method = method_of(buf, (size_t)(sp1 - buf));
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - buf));
	if (!sp2 || sp2 == sp1 + 1 || sp1[1] != '/')
		return fail(p, 400, "malformed request line: expected METHOD /path HTTP/1.1");
	target_len = (size_t)(sp2 - sp1 - 1);
	for (size_t i = 0; i < target_len; i++)
		if (sp1[1 + i] <= ' ' || sp1[1 + i] > '~')
			return fail(p, 400, "malformed request target");
	if (target_len > HTTP_MAX_PATH)
		return fail(p, 414, "request target longer than 256 bytes");
	q = memchr(sp1 + 1, '?', target_len);
	p->path_off = (size_t)(sp1 + 1 - buf);
	p->path_len = q ? (size_t)(q - sp1 - 1) : target_len;
	n -= (size_t)(sp2 + 1 - buf);
	if (n == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0) {
		*ret_v10 = false;
		return 0;
	}
	if (n == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0) {
		*ret_v10 = true;
		return 0;
	}
	if (n == 8 && memcmp(sp2 + 1, "HTTP/", 5) == 0 && sp2[6] >= '0' && sp2[6] <= '9' &&
	    sp2[7] == '.' && sp2[8] >= '0' && sp2[8] <= '9')
		return fail(p, 505, "only HTTP/1.1 and HTTP/1.0 are served");
	return fail(p, 400, "malformed request line: expected HTTP/1.1");
}

/* 1*DIGIT with no sign, space or list (RFC 9110 8.6), bounded before it can overflow. */
static int parse_content_length(struct http_parser *p, const char *v, size_t n, bool *seen)
{
	size_t len = 0;

	if (!n)
		return fail(p, 400, "Content-Length: not a number");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(p, 400, "Content-Length: not a number");
		if (len > HTTP_MAX_BODY)
			break; /* too big already: 413 below, whatever the rest */
		len = len * 10 + (size_t)(v[i] - '0');
	}
	if (*seen && len != p->body_len)
		return fail(p, 400, "Content-Length: two different values");
	if (len > HTTP_MAX_BODY)
		return fail(p, 413, "body larger than 65536 bytes");
	*seen = true;
	p->body_len = len;
	return 0;
}

static void parse_connection(struct http_parser *p, const char *v, size_t n)
{
	/* A comma-separated list of options (RFC 9110 7.6.1). */
	while (n) {
		const char *comma = memchr(v, ',', n);
		size_t l = comma ? (size_t)(comma - v) : n, a = 0, b = l;

		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (eq_nocase(v + a, b - a, "close"))
			p->keep_alive = false;
		else if (eq_nocase(v + a, b - a, "keep-alive"))
			p->keep_alive = true;
		if (!comma)
			break;
		n -= l + 1;
		v = comma + 1;
	}
}

/* One "name: value" line (no CR/LF); obs-fold and spaces before the colon are errors. */
static int parse_header(struct http_parser *p, const char *line, size_t n, bool *seen_cl,
			bool *closing)
{
	const char *colon = memchr(line, ':', n);
	const char *v;
	size_t name_len, vn;

	if (!colon || !is_token(line, (size_t)(colon - line)))
		return fail(p, 400, "malformed header line");
	name_len = (size_t)(colon - line);
	v = colon + 1;
	vn = n - name_len - 1;
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	for (size_t i = 0; i < vn; i++)
		if ((unsigned char)v[i] < ' ' && v[i] != '\t')
			return fail(p, 400, "control character in a header value");
	if (eq_nocase(line, name_len, "Content-Length"))
		return parse_content_length(p, v, vn, seen_cl);
	if (eq_nocase(line, name_len, "Transfer-Encoding"))
		return fail(p, 411, "Transfer-Encoding is not supported: send Content-Length");
	if (eq_nocase(line, name_len, "Connection")) {
		parse_connection(p, v, vn);
		*closing = !p->keep_alive;
	}
	return 0;
}

/* The head, buf[0, p->head_len): the request line and the header lines. */
static int parse_head(struct http_parser *p, const char *buf)
{
	size_t off = 0, nheaders = 0;
	bool v10 = false, seen_cl = false, closing = false;
	int r;

	while (off < p->head_len) {
		const char *nl = memchr(buf + off, '\n', p->head_len - off);
		size_t n = (size_t)(nl - (buf + off)); /* the head ends in "\n": nl is never NULL */

		if (n && buf[off + n - 1] == '\r')
			n--;
		if (memchr(buf + off, '\r', n) || memchr(buf + off, '\0', n))
			return fail(p, 400, "stray CR or NUL in the request head");
		if (off == 0) {
			r = parse_request_line(p, buf, n, &v10);
			p->keep_alive = !v10;
		} else if (n == 0) {
			break; /* the empty line that ends the head */
		} else if (buf[off] == ' ' || buf[off] == '\t') {
			r = fail(p, 400, "folded header lines are not allowed");
		} else if (++nheaders > HTTP_MAX_HEADERS) {
			r = fail(p, 431, "more than 64 header lines");
		} else {
			r = parse_header(p, buf + off, n, &seen_cl, &closing);
		}
		if (r < 0)
			return r;
		off = (size_t)(nl - buf) + 1;
	}
	if (closing)
		p->keep_alive = false;
	return 0;
}

/* The end of the head: the first empty line ("\n\n" or "\n\r\n"), searched from p->scanned. */
static size_t find_head_end(struct http_parser *p, const char *buf, size_t len)
{
	for (size_t i = p->scanned; i < len; i++) {
		if (buf[i] != '\n' || i == 0)
			continue;
		if (buf[i - 1] == '\n' || (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n'))
			return i + 1;
	}
	p->scanned = len;
	return 0;
}

/*
 * Check the request line as soon as it is complete, before the rest of the head: a client
 * that sends a line of garbage (or speaks another protocol) hears so at once.
 */
static int check_request_line(struct http_parser *p, const char *buf, size_t len)
{
	const char *nl;
	size_t n;
	bool v10;

	if (p->line_ok || p->line_scanned >= len)
		return 0;
	nl = memchr(buf + p->line_scanned, '\n', len - p->line_scanned);
	if (!nl) {
		p->line_scanned = len;
		return 0;
	}
	n = (size_t)(nl - buf);
	if (n && buf[n - 1] == '\r')
		n--;
	if (memchr(buf, '\r', n) || memchr(buf, '\0', n))
		return fail(p, 400, "stray CR or NUL in the request line");
	if (parse_request_line(p, buf, n, &v10) < 0)
		return -EBADMSG;
	p->line_ok = true;
	return 0;
}

int http_parse(struct http_parser *p, const char *buf, size_t len, struct http_request *req)
{
	if (p->status)
		return -EBADMSG;
	if (!p->head_len) {
		if (check_request_line(p, buf, len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD) < 0)
			return -EBADMSG;
		size_t end = find_head_end(p, buf, len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD);
		int r;

		if (!end)
			return len >= HTTP_MAX_HEAD ? fail(p, 431, "request head over 8192 bytes") : 0;
		p->head_len = end;
		r = parse_head(p, buf);
		if (r < 0)
			return r;
	}
	if (len - p->head_len < p->body_len)
		return 0;
	*req = (struct http_request){
		.method = p->method,
		.path = buf + p->path_off,
		.path_len = p->path_len,
		.body = buf + p->head_len,
		.body_len = p->body_len,
		.keep_alive = p->keep_alive,
	};
	return (int)(p->head_len + p->body_len);
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

char *http_response(int status, const char *body, const char *extra_headers, bool close,
		    size_t *ret_len)
{
	char *out;

	if (body)
		out = xasprintf("HTTP/1.1 %d %s\r\nServer: hull\r\nContent-Type: application/json\r\n"
				"Content-Length: %zu\r\n%s%s\r\n%s",
				status, http_reason(status), strlen(body),
				extra_headers ? extra_headers : "",
				close ? "Connection: close\r\n" : "", body);
	else
		out = xasprintf("HTTP/1.1 %d %s\r\nServer: hull\r\n%s%s\r\n", status,
				http_reason(status), extra_headers ? extra_headers : "",
				close ? "Connection: close\r\n" : "");
	*ret_len = strlen(out);
	return out;
}
