/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "nft/render.h"
#include "nft/rules.h"
#include "nft/sets.h"

static const char *hook_name(uint32_t hook)
{
	static const char *const names[] = { "prerouting", "input", "forward", "output",
					     "postrouting" };

	return hook < sizeof(names) / sizeof(names[0]) ? names[hook] : "?";
}

static int render_counter(const struct counter_obj *c, void *data)
{
	fprintf(data, "\tcounter %s {\n\t\tcomment \"%s\"\n\t}\n\n", c->name, c->comment);
	return 0;
}

struct elem_out {
	FILE *f;
	size_t n;
};

static int render_elem(const struct set_elem *el, void *data)
{
	struct elem_out *o = data;

	fprintf(o->f, "%s\t\t\t%s", o->n ? ",\n" : "\t\telements = {\n", el->text);
	o->n++;
	return 0;
}

static void render_sets(FILE *f, const struct ruleset *rs)
{
	for (int s = 0; s < SET__COUNT; s++) {
		const struct set_def *d = &set_defs[s];
		struct elem_out o = { .f = f };

		fprintf(f, "\t%s %s {\n\t\ttype %s\n", d->is_set ? "set" : "map", d->name,
			d->text_type);
		set_foreach(rs, (enum set_index)s, render_elem, &o);
		if (o.n)
			fprintf(f, "\n\t\t}\n");
		fprintf(f, "\t}\n\n");
	}
}

static void render_chains(FILE *f, const struct chain_list *cl)
{
	for (size_t i = 0; i < cl->n; i++) {
		const struct chain_def *c = &cl->v[i];

		fprintf(f, "\tchain %s {\n", c->name);
		if (c->type)
			fprintf(f, "\t\ttype %s hook %s priority %d; policy accept;\n", c->type,
				hook_name(c->hook), c->prio);
		for (size_t r = 0; r < c->n_rules; r++)
			fprintf(f, "\t\t%s\n", c->rules[r].text);
		fprintf(f, "\t}\n%s", i + 1 < cl->n ? "\n" : "");
	}
}

int render_text(const struct ruleset *rs, char **ret_text, size_t *ret_len)
{
	struct chain_list cl = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	r = chain_list_build(rs, &cl);
	if (r < 0)
		return r;
	f = open_memstream(&buf, &len);
	if (!f) {
		chain_list_clear(&cl);
		return -ENOMEM;
	}
	/* Creating the table first makes the delete valid when it does not exist yet; the
	 * three commands are one transaction in nft -f. */
	fprintf(f, "table inet %s\ndelete table inet %s\ntable inet %s {\n", rs->table, rs->table,
		rs->table);
	counter_foreach(rs, render_counter, f);
	render_sets(f, rs);
	render_chains(f, &cl);
	fprintf(f, "}\n");
	chain_list_clear(&cl);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret_text = buf;
	*ret_len = len;
	return 0;
}
