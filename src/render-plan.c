// SPDX-License-Identifier: MIT
/*
 * Plans, for people and for programs: a dry run prints each command as an
 * administrator would type it and each file change as a unified diff; a real run says
 * what each step did; --json gives the steps as docs/plan.schema.json describes them.
 */
#include <string.h>

#include "cli.h"
#include "ibup/plan.h"
#include "banned.h"

/* One word for a POSIX shell: as it is when it is safe, else in single quotes. */
static void put_word(FILE *out, const char *w)
{
	if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789_@%+=:,./-") == strlen(w)) {
		fputs(w, out);
		return;
	}
	fputc('\'', out);
	for (const char *p = w; *p; p++)
		if (*p == '\'')
			fputs("'\\''", out);
		else
			fputc(*p, out);
	fputc('\'', out);
}

static void put_command(FILE *out, const char *const *argv)
{
	for (const char *const *a = argv; *a; a++) {
		if (a != argv)
			fputc(' ', out);
		put_word(out, *a);
	}
	fputc('\n', out);
}

/* A path as the administrator finds it: under the root when it is not "/". */
static void host_path(const struct ibup_plan *plan, const char *path, char *buf,
		      size_t size)
{
	bool live = strcmp(plan->root, "/") == 0;

	snprintf(buf, size, "%s/%s", live ? "" : plan->root, path);
	ibup_sanitize_text(buf);
}

static void step_text(FILE *out, const struct ibup_plan *plan, const struct ibup_step *s)
{
	_cleanup_free_ char *diff = NULL;
	char **argv = NULL, path[PATH_MAX + 256];

	if (s->path)
		host_path(plan, s->path, path, sizeof(path));
	switch (s->kind) {
	case IBUP_STEP_WRITE_FILE:
	case IBUP_STEP_EDIT_FILE:
	case IBUP_STEP_REMOVE_FILE:
		if (s->kind == IBUP_STEP_REMOVE_FILE)
			put_command(out, (const char *const[]){ "rm", path, NULL });
		if (ibup_step_diff(s, &diff) == 0) {
			ibup_sanitize_text(diff);
			fputs(diff, out);
		}
		if (s->kind == IBUP_STEP_WRITE_FILE && !s->old_exists)
			fprintf(out, "(mode %04o)\n", s->mode);
		return;
	case IBUP_STEP_WRITE_DEVICE: {
		_cleanup_free_ char *line =
			strndup(s->content, strcspn(s->content, "\n"));

		if (!line)
			return;
		fputs("printf '%s\\n' ", out);
		put_word(out, line);
		fputs(" > ", out);
		put_word(out, path);
		fputc('\n', out);
		return;
	}
	case IBUP_STEP_IPV4_ADDRESS:
		put_command(out, (const char *const[]){ "ip", "link", "set", "dev",
							s->name, "up", NULL });
		break;
	case IBUP_STEP_RUN:
		for (char **e = s->env; e && *e; e++) {
			put_word(out, *e);
			fputc(' ', out);
		}
		break;
	default:
		break;
	}
	if (ibup_step_argv(plan, s, &argv) == 0)
		put_command(out, (const char *const *)argv);
	if (s->kind == IBUP_STEP_DOWNLOAD)
		fprintf(out, "echo '%s  %s' | sha256sum -c\n", s->sha256, path);
	ibup_argv_free(argv);
}

void render_text_plan(FILE *out, const struct ibup_plan *plan)
{
	for (unsigned i = 0; i < plan->n_notes; i++)
		fprintf(out, "%s\n", plan->notes[i].text);
	if (!plan->n) {
		fprintf(out, "Nothing to do: 'ibup %s' would change nothing.\n",
			plan->command);
		return;
	}
	fprintf(out, "%sPlan of 'ibup %s': %u step%s, nothing done yet (--dry-run).\n",
		plan->n_notes ? "\n" : "", plan->command, plan->n,
		plan->n == 1 ? "" : "s");
	for (unsigned i = 0; i < plan->n; i++) {
		fprintf(out, "\n# %u. %s\n", i + 1, plan->steps[i].why);
		step_text(out, plan, &plan->steps[i]);
	}
}

void render_text_step_done(FILE *out, const struct ibup_plan *plan, unsigned i,
			   const char *detail)
{
	const struct ibup_step *s = &plan->steps[i];
	char path[PATH_MAX + 256] = "";
	char **argv = NULL;

	if (s->path)
		host_path(plan, s->path, path, sizeof(path));
	switch (s->kind) {
	case IBUP_STEP_WRITE_FILE:
		fprintf(out, "wrote %s\n", path);
		break;
	case IBUP_STEP_EDIT_FILE:
		fprintf(out, "changed %s\n", path);
		break;
	case IBUP_STEP_REMOVE_FILE:
		fprintf(out, "removed %s\n", path);
		break;
	case IBUP_STEP_DOWNLOAD: /* the detail says from where: the network or the cache */
		fprintf(out, "downloaded %s%s%s%s\n", path, detail && *detail ? " (" : "",
			detail ? detail : "", detail && *detail ? ")" : "");
		break;
	case IBUP_STEP_WRITE_DEVICE:
	case IBUP_STEP_IPV4_ADDRESS:
		break; /* the command's own report says it */
	default:
		if (ibup_step_argv(plan, s, &argv) == 0) {
			fputs("ran: ", out);
			put_command(out, (const char *const *)argv);
		}
		ibup_argv_free(argv);
		break;
	}
}

json_t *render_json_plan(const struct ibup_plan *plan, const struct ibup_exec_result *res,
			 bool dry_run)
{
	json_t *steps = json_array(), *notes = json_array(), *o;

	for (unsigned i = 0; steps && i < plan->n; i++) {
		json_t *s = ibup_step_json(plan, &plan->steps[i], true);
		const char *status =
			ibup_step_status_name(res ? res->status[i] : IBUP_STEP_PLANNED);

		if (!s || json_object_set_new(s, "status", json_string(status)) < 0 ||
		    json_object_set_new(s, "error",
					res && res->errors[i] < 0 &&
							res->status[i] == IBUP_STEP_FAILED
						? json_string(strerror(-res->errors[i]))
						: json_null()) < 0 ||
		    json_array_append_new(steps, s) < 0) {
			json_decref(s);
			json_decref(steps);
			json_decref(notes);
			return NULL;
		}
	}
	for (unsigned i = 0; notes && i < plan->n_notes; i++)
		json_array_append_new(notes, ibup_json_str(plan->notes[i].text));
	/* schema_version comes first, from cli_print_json(). */
	o = json_pack("{s:s, s:o, s:b, s:s, s:o, s:o, s:o, s:o}", "command",
		      plan->command, "root", ibup_json_str(plan->root), "dry_run",
		      dry_run, "inputs_sha256", plan->inputs_sha256, "resumed_from",
		      res && res->resumed ? json_integer(res->resumed_from) : json_null(),
		      "unchanged", notes ? notes : json_null(), "steps",
		      steps ? steps : json_null(), "error",
		      res && *res->error ? ibup_json_str(res->error) : json_null());
	return o;
}
