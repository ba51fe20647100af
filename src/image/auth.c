/* Registry credentials in auth.json (auth.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/path.h"
#include "image/auth.h"

/* "https://host:port/v1/" -> "host:port"; docker's hub keys name index.docker.io. */
static char *key_host(const char *key)
{
	const char *p = strstr(key, "://");
	const char *start = p ? p + 3 : key;
	size_t n = strcspn(start, "/");

	if (n == 15 && strncmp(start, "index.docker.io", 15) == 0)
		return xstrdup("docker.io");
	if (n == 19 && strncmp(start, "registry-1.docker.io", 19) == 0)
		return xstrdup("docker.io");
	return xstrndup(start, n);
}

static int decode_auth(const char *file, const char *key, const char *b64, char **ret_user,
		       char **ret_pass, struct hull_err *err)
{
	size_t n = strlen(b64);
	cleanup_free unsigned char *out = xmalloc(n / 4 * 3 + 4);
	int len = n % 4 == 0 ? EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n) : -1;
	char *colon;

	if (len < 0)
		return hull_err_setx(err, EINVAL, "%s: auths.%s.auth: not base64", file, key);
	/* EVP_DecodeBlock counts the '=' padding as zero bytes */
	while (n > 0 && b64[n - 1] == '=' && len > 0)
		n--, len--;
	out[len] = '\0';
	colon = strchr((char *)out, ':');
	if (!colon || strlen((char *)out) != (size_t)len)
		return hull_err_setx(err, EINVAL, "%s: auths.%s.auth: not user:password", file,
				     key);
	*ret_user = xstrndup((char *)out, (size_t)(colon - (char *)out));
	*ret_pass = xstrdup(colon + 1);
	return 0;
}

static int load(const char *file, json_t **ret, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, file, AUTH_FILE_MAX, &buf, &len);

	if (r == -ENOENT) {
		*ret = json_object();
		return 0;
	}
	if (r < 0)
		return hull_err_set(err, -r, "%s", file);
	r = hjson_load_buf(buf, len, file, ret, err);
	if (r == 0 && !json_is_object(*ret)) {
		json_decref(*ret);
		return hull_err_setx(err, EINVAL, "%s: not a JSON object", file);
	}
	return r;
}

int auth_lookup(char *const *files, const char *registry, char **ret_user, char **ret_pass,
		struct hull_err *err)
{
	*ret_user = *ret_pass = NULL;
	for (size_t i = 0; files && files[i]; i++) {
		cleanup_json json_t *root = NULL;
		json_t *auths, *ent;
		const char *key;
		int r = load(files[i], &root, err);

		if (r < 0)
			return r;
		auths = json_object_get(root, "auths");
		json_object_foreach(auths, key, ent) {
			cleanup_free char *host = key_host(key);
			const char *b64 = json_string_value(json_object_get(ent, "auth"));

			if (strcmp(host, registry) != 0 || !b64 || !*b64)
				continue;
			return decode_auth(files[i], key, b64, ret_user, ret_pass, err);
		}
	}
	return 0;
}

static int save(const char *file, json_t *root, struct hull_err *err)
{
	cleanup_free char *buf = hjson_dump(root, JSON_INDENT(1));
	cleanup_free char *dir = xstrdup(file);
	char *slash = strrchr(dir, '/');
	int r;

	if (slash && slash != dir) {
		*slash = '\0';
		r = path_mkdir_p(dir, 0700);
		if (r < 0)
			return hull_err_set(err, -r, "%s", dir);
	}
	r = fd_write_file_atomic_at(AT_FDCWD, file, buf, strlen(buf), 0600);
	if (r < 0)
		return hull_err_set(err, -r, "%s", file);
	return 0;
}

int auth_store(const char *file, const char *registry, const char *user, const char *pass,
	       struct hull_err *err)
{
	cleanup_json json_t *root = NULL;
	cleanup_free char *plain = xasprintf("%s:%s", user, pass);
	size_t n = strlen(plain);
	cleanup_free unsigned char *b64 = xmalloc((n + 2) / 3 * 4 + 1);
	json_t *auths;
	int r = load(file, &root, err);

	if (r < 0)
		return r;
	(void)EVP_EncodeBlock(b64, (unsigned char *)plain, (int)n);
	auths = json_object_get(root, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		(void)json_object_set_new(root, "auths", auths);
	}
	(void)json_object_set_new(auths, registry, json_pack("{s:s}", "auth", (char *)b64));
	explicit_bzero(plain, n);
	return save(file, root, err);
}

int auth_remove(const char *file, const char *registry, bool *ret_found,
		struct hull_err *err)
{
	cleanup_json json_t *root = NULL;
	json_t *auths, *ent;
	const char *key;
	void *tmp;
	int r = load(file, &root, err);

	*ret_found = false;
	if (r < 0)
		return r;
	auths = json_object_get(root, "auths");
	json_object_foreach_safe(auths, tmp, key, ent) {
		cleanup_free char *host = key_host(key);

		(void)ent;
		if (strcmp(host, registry) == 0) {
			(void)json_object_del(auths, key);
			*ret_found = true;
		}
	}
	return *ret_found ? save(file, root, err) : 0;
}
