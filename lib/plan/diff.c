// SPDX-License-Identifier: MIT
/*
 * Unified diffs of the file steps of a plan, as `diff -u` prints them, so a dry run
 * shows exactly the lines that would change. Config files are small: a longest common
 * subsequence over lines is plenty (its table bounded to MAX_CELLS; past that, one hunk
 * replaces every line).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ibup/plan.h"
#include "internal.h"
#include "banned.h"

#define CONTEXT 3
#define MAX_CELLS (4u * 1000 * 1000) /* of the LCS table: 16 MiB at most */

struct line {
	const char *s;
	size_t len; /* without the newline */
	bool nl; /* ends with a newline */
};

static int split(const char *t, size_t len, struct line **ret, size_t *ret_n)
{
	size_t n = 0, cap = 0;
	struct line *v = NULL;

	for (size_t i = 0; i < len;) {
		const char *eol = memchr(t + i, '\n', len - i);
		size_t l = eol ? (size_t)(eol - (t + i)) : len - i;

		if (n == cap) {
			struct line *nv;

			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = (struct line){ .s = t + i, .len = l, .nl = eol != NULL };
		i += l + (eol ? 1 : 0);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool same(const struct line *a, const struct line *b)
{
	return a->len == b->len && a->nl == b->nl && memcmp(a->s, b->s, a->len) == 0;
}

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->oom = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void putf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void put_line(struct out *o, char mark, const struct line *l)
{
	put(o, &mark, 1);
	put(o, l->s, l->len);
	put(o, "\n", 1);
	if (!l->nl)
		put(o, "\\ No newline at end of file\n", 28);
}

/* An edit script entry: ' ' same, '-' only in a, '+' only in b. */
struct op {
	char mark;
	size_t ai, bi;
};

static int script(const struct line *a, size_t na, const struct line *b, size_t nb,
		  struct op **ret, size_t *ret_n)
{
	struct op *ops = malloc((na + nb + 1) * sizeof(*ops));
	uint32_t *t = NULL;
	size_t n = 0, i = 0, j = 0, w = nb + 1;

	if (!ops)
		return -ENOMEM;
	if ((uint64_t)(na + 1) * (nb + 1) <= MAX_CELLS) {
		t = calloc((na + 1) * (nb + 1), sizeof(*t));
		if (!t) {
			free(ops);
			return -ENOMEM;
		}
		/* t[i][j]: the LCS length of a[i..] and b[j..]. */
		for (size_t x = na; x-- > 0;)
			for (size_t y = nb; y-- > 0;)
				t[x * w + y] =
					same(&a[x], &b[y])
						? t[(x + 1) * w + y + 1] + 1
						: (t[(x + 1) * w + y] > t[x * w + y + 1]
							   ? t[(x + 1) * w + y]
							   : t[x * w + y + 1]);
	}
	while (i < na || j < nb) {
		if (t && i < na && j < nb && same(&a[i], &b[j])) {
			ops[n++] = (struct op){ ' ', i++, j++ };
		} else if (i < na &&
			   (j == nb || !t || t[(i + 1) * w + j] >= t[i * w + j + 1])) {
			ops[n++] = (struct op){ '-', i++, j };
		} else {
			ops[n++] = (struct op){ '+', i, j++ };
		}
	}
	free(t);
	*ret = ops;
	*ret_n = n;
	return 0;
}

static void hunks(struct out *o, const struct op *ops, size_t n, const struct line *a,
		  const struct line *b)
{
	for (size_t k = 0; k < n;) {
		size_t start, end, last, as = 0, bs = 0, ac = 0, bc = 0;

		while (k < n && ops[k].mark == ' ')
			k++;
		if (k == n)
			break;
		start = k > CONTEXT ? k - CONTEXT : 0;
		/* Extend while the next change is within twice the context. */
		last = k;
		for (end = k; end < n; end++) {
			if (ops[end].mark != ' ')
				last = end;
			else if (end - last > 2 * CONTEXT)
				break;
		}
		end = last + CONTEXT + 1 < n ? last + CONTEXT + 1 : n;
		as = ops[start].ai;
		bs = ops[start].bi;
		for (size_t x = start; x < end; x++) {
			ac += ops[x].mark != '+';
			bc += ops[x].mark != '-';
		}
		putf(o, "@@ -%zu,%zu +%zu,%zu @@\n", ac ? as + 1 : as, ac,
		     bc ? bs + 1 : bs, bc);
		for (size_t x = start; x < end; x++)
			put_line(o, ops[x].mark,
				 ops[x].mark == '+' ? &b[ops[x].bi] : &a[ops[x].ai]);
		k = end;
	}
}

int ibup_text_diff(const char *a, size_t alen, const char *b, size_t blen,
		   const char *path, char **ret_diff)
{
	_cleanup_free_ struct line *la = NULL, *lb = NULL;
	_cleanup_free_ struct op *ops = NULL;
	size_t na = 0, nb = 0, n = 0;
	struct out o = { 0 };
	bool changed = false;
	int r;

	put(&o, "", 0);
	if ((a && split(a, alen, &la, &na) < 0) || (b && split(b, blen, &lb, &nb) < 0))
		return -ENOMEM;
	r = script(la, na, lb, nb, &ops, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		changed |= ops[i].mark != ' ';
	if (changed || !a != !b) {
		put(&o, a ? "--- a/" : "--- /dev/null", a ? 6 : 13);
		if (a)
			put(&o, path, strlen(path));
		put(&o, b ? "\n+++ b/" : "\n+++ /dev/null", b ? 7 : 14);
		if (b)
			put(&o, path, strlen(path));
		put(&o, "\n", 1);
		hunks(&o, ops, n, la, lb);
	}
	if (o.oom) {
		free(o.buf);
		return -ENOMEM;
	}
	*ret_diff = o.buf;
	return 0;
}

int ibup_step_diff(const struct ibup_step *step, char **ret_diff)
{
	switch (step->kind) {
	case IBUP_STEP_WRITE_FILE:
	case IBUP_STEP_EDIT_FILE:
		return ibup_text_diff(step->old_exists ? step->old_content : NULL,
				      step->old_len, step->content, step->len, step->path,
				      ret_diff);
	case IBUP_STEP_REMOVE_FILE:
		if (!step->old_exists)
			break;
		return ibup_text_diff(step->old_content, step->old_len, NULL, 0,
				      step->path, ret_diff);
	default:
		break;
	}
	return -ENOENT;
}
