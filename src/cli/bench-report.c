/* `hull bench compare`'s table and chart (plain SVG, no dependency: the numbers drawn as bars). */
#include "cli/bench-report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fd.h"

const char *const bench_kind_name[BENCH_KINDS] = { "container", "microVM cold",
						    "microVM restored" };

static const struct {
	const char *label, *unit;
	double scale; /* value / scale is shown */
} metric[BENCH_METRICS] = {
	[BENCH_FIRST] = { "time to first output", "ms", 1e-3 },
	[BENCH_TOTAL] = { "run --rm, end to end", "ms", 1e-3 },
	[BENCH_CPU] = { "CPU-bound workload", "ms", 1e-3 },
	[BENCH_IO] = { "file-I/O workload", "ms", 1e-3 },
	[BENCH_MEM] = { "memory per instance (PSS)", "MiB", 1048576.0 },
	[BENCH_DISK] = { "disk needed", "MiB", 1048576.0 },
	[BENCH_FIT] = { "instances in the budget", "", 1 },
};

static void cell(char *buf, size_t n, const struct bench_result *r, int k, int m)
{
	if (!r->have[k][m])
		(void)snprintf(buf, n, "%s", r->failed[k] ? "failed" : "n/a");
	else if (m == BENCH_FIT)
		(void)snprintf(buf, n, "%.0f", r->v[k][m]);
	else
		(void)snprintf(buf, n, "%.1f", r->v[k][m] / metric[m].scale);
}

void bench_report_table(FILE *f, const char *image, unsigned runs, uint64_t budget,
			const struct bench_result *r)
{
	fprintf(f, "hull bench compare %s: medians of %u alternated runs\n", image, runs);
	fprintf(f, "%-36s %12s %12s %12s %9s %9s\n", "", "container", "VM cold", "VM restored",
		"cold/ctr", "rest/ctr");
	for (int m = 0; m < BENCH_METRICS; m++) {
		char label[64], c[BENCH_KINDS][32], ratio[2][32] = { "", "" };

		if (m == BENCH_FIT)
			(void)snprintf(label, sizeof(label), "%s (%.0f MiB)", metric[m].label,
				       (double)budget / 1048576.0);
		else
			(void)snprintf(label, sizeof(label), "%s (%s)", metric[m].label,
				       metric[m].unit);
		for (int k = 0; k < BENCH_KINDS; k++)
			cell(c[k], sizeof(c[k]), r, k, m);
		for (int k = BENCH_VM; k < BENCH_KINDS; k++)
			if (r->have[BENCH_CTR][m] && r->have[k][m] && r->v[BENCH_CTR][m] > 0)
				(void)snprintf(ratio[k - BENCH_VM], sizeof(ratio[0]), "%.2fx",
					       r->v[k][m] / r->v[BENCH_CTR][m]);
		fprintf(f, "%-36s %12s %12s %12s %9s %9s\n", label, c[BENCH_CTR], c[BENCH_VM],
			c[BENCH_VM_WARM], ratio[0], ratio[1]);
	}
	fprintf(f, "VM cold: `hull run --vm` booting (HULL_VM_COLD=1); VM restored: from the "
		   "image's warm snapshot.\n");
}

/* Text for XML: the characters markup gives a meaning escaped. */
static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
		}
	}
}

#define SVG_W 820
#define SVG_ROW 46
#define SVG_LABEL 230
#define SVG_BAR (SVG_W - SVG_LABEL - 120)

static void svg_row(FILE *f, const struct bench_result *r, int m, int y)
{
	static const char *const color[BENCH_KINDS] = { "#4c72b0", "#dd8452", "#55a868" };
	double max = 0;

	fprintf(f, "<text x=\"8\" y=\"%d\">%s</text>\n", y + 20, metric[m].label);
	for (int k = 0; k < BENCH_KINDS; k++)
		if (r->have[k][m] && r->v[k][m] > max)
			max = r->v[k][m];
	for (int k = 0; k < BENCH_KINDS; k++) {
		char val[32];
		int w = r->have[k][m] && max > 0 ? (int)(SVG_BAR * r->v[k][m] / max) : 0;
		int by = y + 4 + k * 14;

		cell(val, sizeof(val), r, k, m);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" fill=\"%s\"/>\n",
			SVG_LABEL, by, w > 0 ? w : 1, color[k]);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s %s</text>\n", SVG_LABEL + w + 6, by + 10,
			val, r->have[k][m] ? metric[m].unit : "");
	}
}

int bench_report_svg(const char *path, const char *image, const struct bench_result *r,
		     struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int h = 70 + BENCH_METRICS * SVG_ROW, rc;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return hull_err_set(err, -errno, "%s", path);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "font-family=\"sans-serif\" font-size=\"13\">\n", SVG_W, h);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"8\" y=\"22\" font-size=\"16\">hull bench compare ");
	xml_text(f, image);
	fprintf(f, "</text>\n<rect x=\"8\" y=\"34\" width=\"12\" height=\"12\" fill=\"#4c72b0\"/>"
		   "<text x=\"26\" y=\"45\">container</text>"
		   "<rect x=\"110\" y=\"34\" width=\"12\" height=\"12\" fill=\"#dd8452\"/>"
		   "<text x=\"128\" y=\"45\">microVM (cold boot)</text>"
		   "<rect x=\"270\" y=\"34\" width=\"12\" height=\"12\" fill=\"#55a868\"/>"
		   "<text x=\"288\" y=\"45\">microVM (restored)</text>\n");
	for (int m = 0; m < BENCH_METRICS; m++)
		svg_row(f, r, m, 56 + m * SVG_ROW);
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0)
		return hull_err_set(err, -errno, "%s", path);
	rc = fd_write_file_atomic_at(AT_FDCWD, path, buf, len, 0644);
	if (rc < 0)
		return hull_err_set(err, rc, "%s", path);
	return 0;
}
