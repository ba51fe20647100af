/* One field of the spec model set by its offset (spec-field.h). */
#include "spec/spec-field.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "spec/spec.h"

void spec_field_apply(struct oci_spec *s, const struct spec_field_set *f)
{
	char *p = (char *)s + f->off;

	switch (f->type) {
	case SPEC_FIELD_INT: {
		int v = (int)f->num;

		memcpy(p, &v, sizeof(v));
		break;
	}
	case SPEC_FIELD_I64:
		memcpy(p, &f->num, sizeof(f->num));
		break;
	case SPEC_FIELD_U64: {
		uint64_t v = (uint64_t)f->num;

		memcpy(p, &v, sizeof(v));
		break;
	}
	case SPEC_FIELD_BOOL: {
		bool v = f->num != 0;

		memcpy(p, &v, sizeof(v));
		break;
	}
	case SPEC_FIELD_STR: {
		char *old, *v = xstrdup(f->str);

		memcpy(&old, p, sizeof(old));
		free(old);
		memcpy(p, &v, sizeof(v));
		break;
	}
	}
	if (f->has_off != SPEC_FIELD_NO_FLAG) {
		bool on = true;

		memcpy((char *)s + f->has_off, &on, sizeof(on));
	}
}
