/* registries.conf, version 2: a TOML subset parser and the prefix rules (regconf.h). */
#include "image/regconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"

enum table { T_TOP, T_REGISTRY, T_MIRROR, T_OTHER };

struct value {
	enum { V_STR, V_BOOL, V_ARR } kind;
	char *s;
	bool b;
	char **arr;
};

struct parser {
	const char *file, *p;
	int line;
	enum table table;
	struct regconf *c; /* this file's settings */
	struct hull_err *err;
};

static int perr(struct parser *ps, const char *what)
{
	return hull_err_setx(ps->err, EINVAL, "registries.conf %s:%d: %s", ps->file, ps->line,
			     what);
}

static void skip_blank(struct parser *ps, bool newlines)
{
	for (;;) {
		if (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')
			ps->p++;
		else if (*ps->p == '#')
			ps->p += strcspn(ps->p, "\n");
		else if (newlines && *ps->p == '\n')
			ps->p++, ps->line++;
		else
			return;
	}
}

/* A basic ("...") or literal ('...') one-line string; *ret is heap. */
static int parse_string(struct parser *ps, char **ret)
{
	char q = *ps->p++;
	size_t cap = 64, n = 0;
	cleanup_free char *out = xmalloc(cap);

	for (;;) {
		char ch = *ps->p++;

		if (ch == '\0' || ch == '\n')
			return perr(ps, "unterminated string (multi-line strings are not read)");
		if (ch == q)
			break;
		if (ch == '\\' && q == '"') {
			const char *from = "\\\"ntr", *to = "\\\"\n\t\r";
			const char *e = *ps->p ? strchr(from, *ps->p) : NULL;

			if (!e)
				return perr(ps, "unsupported escape in a string");
			ch = to[e - from];
			ps->p++;
		}
		if (n + 2 > cap)
			out = xrealloc(out, cap *= 2);
		out[n++] = ch;
	}
	out[n] = '\0';
	*ret = steal_ptr(&out);
	return 0;
}

static int parse_value(struct parser *ps, struct value *v)
{
	if (*ps->p == '"' || *ps->p == '\'') {
		v->kind = V_STR;
		return parse_string(ps, &v->s);
	}
	if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
		v->kind = V_BOOL;
		v->b = *ps->p == 't';
		ps->p += v->b ? 4 : 5;
		return 0;
	}
	if (*ps->p != '[')
		return perr(ps, "expected a string, true, false or an array of strings");
	v->kind = V_ARR;
	v->arr = xcalloc(1, sizeof(char *));
	ps->p++;
	for (size_t n = 0;; n++) {
		char *s;
		int r;

		skip_blank(ps, true);
		if (*ps->p == ']')
			break;
		if (n >= REGCONF_ENTRIES_MAX)
			return perr(ps, "too many array entries");
		if (*ps->p != '"' && *ps->p != '\'')
			return perr(ps, "expected a string in the array");
		r = parse_string(ps, &s);
		if (r < 0)
			return r;
		strv_push_owned(&v->arr, s);
		skip_blank(ps, true);
		if (*ps->p == ',')
			ps->p++;
		else if (*ps->p != ']')
			return perr(ps, "expected ',' or ']' in the array");
	}
	ps->p++;
	return 0;
}

static void value_clear(struct value *v)
{
	free(v->s);
	strv_free(v->arr);
}

static int header(struct parser *ps)
{
	bool array = ps->p[1] == '[';
	size_t n;
	cleanup_free char *name = NULL;

	ps->p += array ? 2 : 1;
	n = strcspn(ps->p, "]\n");
	if (ps->p[n] != ']' || (array && ps->p[n + 1] != ']'))
		return perr(ps, "unterminated table header");
	name = xstrndup(ps->p, n);
	ps->p += n + (array ? 2 : 1);
	/* trim: "[[ registry ]]" is valid TOML */
	char *b = name + strspn(name, " \t");
	for (char *e = b + strlen(b); e > b && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = '\0';
	ps->table = T_OTHER;
	if (array && strcmp(b, "registry") == 0) {
		if (ps->c->n_regs >= REGCONF_ENTRIES_MAX)
			return perr(ps, "too many [[registry]] tables");
		ps->c->regs = xrealloc(ps->c->regs, (ps->c->n_regs + 1) * sizeof(*ps->c->regs));
		ps->c->regs[ps->c->n_regs++] = (struct regconf_registry){ 0 };
		ps->table = T_REGISTRY;
	} else if (array && strcmp(b, "registry.mirror") == 0) {
		struct regconf_registry *g;

		if (ps->c->n_regs == 0)
			return perr(ps, "[[registry.mirror]] before any [[registry]]");
		g = &ps->c->regs[ps->c->n_regs - 1];
		if (g->n_mirrors >= REGCONF_ENTRIES_MAX)
			return perr(ps, "too many [[registry.mirror]] tables");
		g->mirrors = xrealloc(g->mirrors, (g->n_mirrors + 1) * sizeof(*g->mirrors));
		g->mirrors[g->n_mirrors++] = (struct regconf_mirror){ 0 };
		ps->table = T_MIRROR;
	} else if (!array && (strcmp(b, "registry") == 0 || strcmp(b, "registry.mirror") == 0)) {
		return perr(ps, "[registry] must be an array of tables: [[registry]]");
	}
	return 0;
}

/* Store v under key in the current table; v's heap parts move (v cleared). */
static int assign(struct parser *ps, const char *key, struct value *v)
{
	struct regconf_registry *g = ps->c->n_regs ? &ps->c->regs[ps->c->n_regs - 1] : NULL;
	struct regconf_mirror *m = g && g->n_mirrors ? &g->mirrors[g->n_mirrors - 1] : NULL;
	char **sp = NULL;
	bool *bp = NULL;
	cleanup_free char *what = NULL;

	if (ps->table == T_TOP && strcmp(key, "unqualified-search-registries") == 0) {
		if (v->kind != V_ARR)
			return perr(ps, "unqualified-search-registries must be an array of strings");
		strv_free(ps->c->search);
		ps->c->search = steal_ptr(&v->arr);
		return 0;
	}
	if (ps->table == T_REGISTRY) {
		sp = strcmp(key, "prefix") == 0 ? &g->prefix :
		     strcmp(key, "location") == 0 ? &g->location : NULL;
		bp = strcmp(key, "insecure") == 0 ? &g->insecure :
		     strcmp(key, "blocked") == 0 ? &g->blocked : NULL;
	} else if (ps->table == T_MIRROR) {
		sp = strcmp(key, "location") == 0 ? &m->location : NULL;
		bp = strcmp(key, "insecure") == 0 ? &m->insecure : NULL;
	}
	if ((sp && v->kind != V_STR) || (bp && v->kind != V_BOOL)) {
		what = xasprintf("%s must be %s", key, sp ? "a string" : "true or false");
		return perr(ps, what);
	}
	if (sp) {
		free(*sp);
		*sp = steal_ptr(&v->s);
	} else if (bp) {
		*bp = v->b;
	}
	return 0; /* other keys are not hull's (docs/registry.md) */
}

static int key_value(struct parser *ps)
{
	cleanup_free char *key = NULL;
	struct value v = { 0 };
	int r;

	if (*ps->p == '"' || *ps->p == '\'') {
		r = parse_string(ps, &key);
		if (r < 0)
			return r;
	} else {
		size_t n = strspn(ps->p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789_-.");
		if (n == 0)
			return perr(ps, "expected a key, a [table] or a comment");
		key = xstrndup(ps->p, n);
		ps->p += n;
	}
	skip_blank(ps, false);
	if (*ps->p++ != '=')
		return perr(ps, "expected '=' after the key");
	skip_blank(ps, false);
	r = parse_value(ps, &v);
	if (r == 0)
		r = assign(ps, key, &v);
	value_clear(&v);
	return r;
}

static int parse_text(struct parser *ps)
{
	for (;;) {
		int r;

		skip_blank(ps, false);
		if (*ps->p == '\0')
			return 0;
		if (*ps->p == '\n') {
			ps->p++, ps->line++;
			continue;
		}
		r = *ps->p == '[' ? header(ps) : key_value(ps);
		if (r < 0)
			return r;
		skip_blank(ps, false);
		if (*ps->p != '\n' && *ps->p != '\0')
			return perr(ps, "unexpected text after the value");
	}
}

static void registry_clear(struct regconf_registry *g)
{
	free(g->prefix);
	free(g->location);
	for (size_t i = 0; i < g->n_mirrors; i++)
		free(g->mirrors[i].location);
	free(g->mirrors);
}

void regconf_free(struct regconf *c)
{
	for (size_t i = 0; c && i < c->n_regs; i++)
		registry_clear(&c->regs[i]);
	if (c) {
		free(c->regs);
		strv_free(c->search);
		*c = (struct regconf){ 0 };
	}
}

/* Check one file's [[registry]] tables and merge them and its search list into c. */
static int merge(struct regconf *c, struct regconf *f, const char *file, struct hull_err *err)
{
	for (size_t i = 0; i < f->n_regs; i++) {
		struct regconf_registry *g = &f->regs[i];
		size_t j;

		if (!g->prefix && !g->location)
			return hull_err_setx(err, EINVAL, "registries.conf %s: a [[registry]] "
					     "without prefix or location", file);
		if (!g->prefix)
			g->prefix = xstrdup(g->location);
		if (strncmp(g->prefix, "*.", 2) == 0 && (g->location || g->n_mirrors))
			return hull_err_setx(err, EINVAL, "registries.conf %s: [[registry]] %s: a "
					     "wildcard prefix takes no location or mirror", file,
					     g->prefix);
		for (size_t k = 0; k < g->n_mirrors; k++)
			if (!g->mirrors[k].location)
				return hull_err_setx(err, EINVAL, "registries.conf %s: [[registry]] "
						     "%s: a mirror without location", file,
						     g->prefix);
		for (j = 0; j < c->n_regs && strcmp(c->regs[j].prefix, g->prefix) != 0; j++)
			;
		if (j == c->n_regs) {
			c->regs = xrealloc(c->regs, (c->n_regs + 1) * sizeof(*c->regs));
			c->n_regs++;
		} else {
			registry_clear(&c->regs[j]);
		}
		c->regs[j] = *g;
		*g = (struct regconf_registry){ 0 };
	}
	if (f->search) {
		strv_free(c->search);
		c->search = steal_ptr(&f->search);
	}
	return 0;
}

static int load_file(struct regconf *c, const char *path, struct hull_err *err)
{
	cleanup_free char *text = NULL;
	struct regconf f = { 0 };
	struct parser ps = { .file = path, .line = 1, .c = &f, .err = err };
	int r = fd_read_file_at(AT_FDCWD, path, REGCONF_FILE_MAX, &text, NULL);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hull_err_set(err, -r, "registries.conf %s", path);
	ps.p = text;
	r = parse_text(&ps);
	if (r == 0)
		r = merge(c, &f, path, err);
	regconf_free(&f);
	return r;
}

static int conf_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

int regconf_load(const char *path, struct regconf *ret, struct hull_err *err)
{
	cleanup_free char *dir = xasprintf("%s.d", path);
	struct dirent **names = NULL;
	int n, r;

	*ret = (struct regconf){ 0 };
	r = load_file(ret, path, err);
	n = r == 0 ? scandir(dir, &names, conf_name, alphasort) : 0;
	for (int i = 0; i < n; i++) {
		cleanup_free char *f = xasprintf("%s/%s", dir, names[i]->d_name);

		if (r == 0)
			r = load_file(ret, f, err);
		free(names[i]);
	}
	free(names);
	if (r == 0 && n < 0 && errno != ENOENT && errno != ENOTDIR)
		r = hull_err_set(err, errno, "registries.conf %s", dir);
	if (r < 0)
		regconf_free(ret);
	return r;
}

/* Does prefix cover repo: the same, a parent repository, or a wildcard of its domain? */
static bool prefix_matches(const char *prefix, const char *repo)
{
	size_t n = strlen(prefix);

	if (strncmp(prefix, "*.", 2) == 0) {
		size_t d = strcspn(repo, "/:"), s = n - 1; /* the host, without a port */

		return d > s && strncmp(repo + d - s, prefix + 1, s) == 0;
	}
	return strncmp(repo, prefix, n) == 0 && (repo[n] == '\0' || repo[n] == '/');
}

const struct regconf_registry *regconf_find(const struct regconf *c, const char *repo)
{
	const struct regconf_registry *best = NULL;

	for (size_t i = 0; c && i < c->n_regs; i++)
		if (prefix_matches(c->regs[i].prefix, repo) &&
		    (!best || strlen(c->regs[i].prefix) > strlen(best->prefix)))
			best = &c->regs[i];
	return best;
}

char *regconf_rewrite(const struct regconf_registry *reg, const char *location,
		      const char *repo)
{
	if (strncmp(reg->prefix, "*.", 2) == 0 || !location)
		return xstrdup(repo);
	return xasprintf("%s%s", location, repo + strlen(reg->prefix));
}
