#pragma once
/* `hull inspect`: docker-shaped JSON for containers and images, and --format templates. */
#include <jansson.h>

#include "common/error.h"
#include "engine/container.h"
#include "image/image.h"

/* A new docker-like object for a container (Id, Name, State, Config, HostConfig, ...). */
/* NULL with err set when the container's mounts.json cannot be read. */
json_t *engine_inspect_container(struct ctr *c, struct hull_err *err);
/* A new docker-like object for an image (Id, RepoTags, Created, Size, Config, RootFS). */
json_t *engine_inspect_image(struct image_store *s, const struct image_info *img,
			     struct hull_err *err);
/*
 * Render a Go-template-like format against v: "{{.State.Status}}" paths (strings printed
 * raw, other values as compact JSON), "{{json .Config}}", and literal text in between.
 * Returns a heap string, or NULL with err set on a syntax error.
 */
char *engine_format(const char *tmpl, json_t *v, struct hull_err *err);
