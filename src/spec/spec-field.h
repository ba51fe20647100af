#pragma once
/*
 * Setting one field of the spec model by its place in struct oci_spec: what a `hull run`
 * flag that maps to exactly one config.json field needs (cli/create-spec.h's table). The
 * value was checked where it entered; spec_finish's re-parse applies the model's rules.
 */
#include <stddef.h>
#include <stdint.h>

struct oci_spec;

enum spec_field_type {
	SPEC_FIELD_INT,  /* int */
	SPEC_FIELD_I64,  /* int64_t */
	SPEC_FIELD_U64,  /* uint64_t */
	SPEC_FIELD_BOOL, /* bool */
	SPEC_FIELD_STR,  /* char *, owned by the model */
};

#define SPEC_FIELD_NO_FLAG SIZE_MAX

struct spec_field_set {
	const char *name; /* what the caller calls it (the engine: inspect's HostConfig key) */
	enum spec_field_type type;
	size_t off;     /* offsetof(struct oci_spec, ...) of the field */
	size_t has_off; /* offsetof of its bool has_ flag, or SPEC_FIELD_NO_FLAG */
	int64_t num;    /* INT, I64, U64 (>= 0), BOOL (0 or 1) */
	const char *str; /* STR: copied into the model */
};

/* Write f's value into s (and set its has_ flag). */
void spec_field_apply(struct oci_spec *s, const struct spec_field_set *f);
