#include "engine/arch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "image/image.h"

/* OCI (GOARCH) names -> the names of qemu-user's binaries and binfmt_misc handlers. */
static const struct {
	const char *oci, *qemu;
} arch_names[] = {
	{ "amd64", "x86_64" },    { "arm64", "aarch64" },     { "arm", "arm" },
	{ "386", "i386" },        { "ppc64le", "ppc64le" },   { "ppc64", "ppc64" },
	{ "s390x", "s390x" },     { "riscv64", "riscv64" },   { "mips64le", "mips64el" },
	{ "mips64", "mips64" },   { "mipsle", "mipsel" },     { "mips", "mips" },
	{ "loong64", "loongarch64" },
};

static const char *qemu_name(const char *arch)
{
	for (size_t i = 0; i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
		if (strcmp(arch_names[i].oci, arch) == 0)
			return arch_names[i].qemu;
	return NULL;
}

/* The line of a binfmt_misc entry that starts with key, or NULL. */
static const char *entry_line(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, n) == 0)
			return p + n;
	return NULL;
}

/* Why the handler of qemu in dir cannot run the image, or NULL when it can. */
static const char *handler_problem(const char *dir, const char *qemu, char *buf, size_t bufsz)
{
	cleanup_free char *path = xasprintf("%s/qemu-%s", dir, qemu);
	cleanup_free char *status_path = xasprintf("%s/status", dir);
	cleanup_free char *text = NULL;
	cleanup_free char *status = NULL;
	const char *flags;
	int r;

	/* the whole of binfmt_misc can be switched off (echo 0 > status) */
	if (fd_read_file_at(AT_FDCWD, status_path, 4096, &status, NULL) == 0 &&
	    strncmp(status, "enabled", 7) != 0)
		return snprintf(buf, bufsz, "%s is disabled", status_path), buf;
	r = fd_read_file_at(AT_FDCWD, path, 4096, &text, NULL);
	if (r < 0)
		return snprintf(buf, bufsz, "%s: %s", path,
				r == -ENOENT ? "no such handler" : strerror(-r)), buf;
	if (strncmp(text, "enabled", 7) != 0)
		return snprintf(buf, bufsz, "%s is disabled", path), buf;
	flags = entry_line(text, "flags: ");
	if (!flags || !memchr(flags, 'F', strcspn(flags, "\n")))
		return snprintf(buf, bufsz, "%s has no F flag", path), buf;
	return NULL;
}

int engine_arch_check(const char *image, const char *os, const char *arch, const char *variant,
		      const char *binfmt_dir, struct hull_err *err)
{
	const char *host = image_host_arch();
	const char *qemu;
	const char *why;
	char buf[512];

	if (os && strcmp(os, "linux") != 0)
		return hull_err_setx(err, ENOEXEC, "image %s is %s/%s and this host is linux/%s: "
				     "only linux images run here", image, os, arch ? arch : "?",
				     host);
	if (!arch || strcmp(arch, host) == 0 ||
	    (strcmp(arch, "386") == 0 && strcmp(host, "amd64") == 0))
		return 0;
	qemu = qemu_name(arch);
	why = qemu ? handler_problem(binfmt_dir ? binfmt_dir : ENGINE_BINFMT_DIR, qemu, buf,
				     sizeof(buf))
		   : "qemu-user has no emulator for it";
	if (!why)
		return 0;
	return hull_err_setx(err, ENOEXEC, "image %s is linux/%s%s%s and this host is linux/%s: "
			     "install qemu-user-static (binfmt_misc with the F flag) to run it "
			     "(%s)", image, arch, variant ? "/" : "", variant ? variant : "",
			     host, why);
}

int engine_vm_arch_check(const char *image, const char *arch, const char *variant,
			 struct hull_err *err)
{
	const char *host = image_host_arch();

	if (!arch || strcmp(arch, host) == 0 ||
	    (strcmp(arch, "386") == 0 && strcmp(host, "amd64") == 0))
		return 0;
	return hull_err_setx(err, ENOEXEC, "image %s is linux/%s%s%s and --vm boots this host's "
			     "linux/%s kernel, which cannot run it (qemu-user-static serves "
			     "containers only): run it without --vm", image, arch,
			     variant ? "/" : "", variant ? variant : "", host);
}
