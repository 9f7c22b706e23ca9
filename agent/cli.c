/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line: a table of subcommands and a table of options, each option naming the
 * subcommands it belongs to, so that a misplaced option is a usage error, never ignored.
 * A new subcommand is a row in each; a new option is one row and its setter.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/daemon/run.h"
#include "agent/obs/http.h"
#include "agent/obs/log.h"
#include "nft/statedir.h"

#ifndef NFTGATE_VERSION
#define NFTGATE_VERSION "0.1"
#endif

#define MAX_PATHS 256
#define MAX_CLASSES 64
#define TABLE_NAME_MAX 255 /* the kernel's NFT_TABLE_MAXNAMELEN (256) holds the NUL */
#define OPT_BASE 256       /* getopt value of option i: OPT_BASE + i */

enum { SC_APPLY, SC_ROLLBACK, SC_STATUS, SC_RUN, SC_VERSION, SC__COUNT };
#define ON(sc) (1u << (sc))

static int cmd_version(const struct cli *c)
{
	printf("nftgate %s\n", NFTGATE_VERSION);
	return EXIT_OK;
}

struct subcommand {
	const char *name;
	int (*run)(const struct cli *c);
	bool needs_file;
	const char *usage;
};

static const struct subcommand subcommands[SC__COUNT] = {
	[SC_APPLY] = { "apply", cmd_apply, true,
		       "-f PATH... [--dry-run] [--allow-empty] [--state-dir DIR] [--table NAME] "
		       "[--masquerade=always|never]" },
	[SC_ROLLBACK] = { "rollback", cmd_rollback, false, "[--state-dir DIR] [--table NAME]" },
	[SC_STATUS] = { "status", cmd_status, true, "-f PATH... [-o yaml|json]" },
	[SC_RUN] = { "run", cmd_run, true,
		     "-f PATH... [--listen ADDR:PORT] [--log-format logfmt|json] "
		     "[--log-level LEVEL] [--allow-empty] [--state-dir DIR] [--table NAME] "
		     "[--masquerade=always|never]" },
	[SC_VERSION] = { "version", cmd_version, false, "" },
};

/* ---- the options: each setter returns EXIT_OK, or EXIT_INPUT after saying why ---- */

static int set_file(struct cli *c, const char *arg)
{
	if (c->n_paths == MAX_PATHS) {
		cli_error("at most %d -f paths", MAX_PATHS);
		return EXIT_INPUT;
	}
	c->paths[c->n_paths++] = arg;
	return EXIT_OK;
}

static int set_output(struct cli *c, const char *arg)
{
	if (!strcmp(arg, "yaml"))
		c->output = OUTPUT_YAML;
	else if (!strcmp(arg, "json"))
		c->output = OUTPUT_JSON;
	else {
		cli_error("-o: '%s' is not an output format (yaml, json)", arg);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

static int set_dry_run(struct cli *c, const char *arg)
{
	c->dry_run = true;
	return EXIT_OK;
}

static int set_allow_empty(struct cli *c, const char *arg)
{
	c->allow_empty = true;
	return EXIT_OK;
}

static int set_state_dir(struct cli *c, const char *arg)
{
	if (!*arg) {
		cli_error("--state-dir: the directory name is empty");
		return EXIT_INPUT;
	}
	c->state_dir = arg;
	return EXIT_OK;
}

/* Both limits up front: the kernel's, and the state directory's file names, which hold the
 * name (bytes outside [A-Za-z0-9_-] escaped as %xx) and must fit NAME_MAX. */
static int set_table(struct cli *c, const char *arg)
{
	size_t n = strlen(arg), in_files = statedir_prefix_len(arg);

	if (!n || n > TABLE_NAME_MAX) {
		cli_error("--table: a table name is 1 to %d bytes (the kernel's limit); this one "
			  "is %zu", TABLE_NAME_MAX, n);
		return EXIT_INPUT;
	}
	if (in_files > STATEDIR_PREFIX_MAX) {
		cli_error("--table: '%s' takes %zu bytes in the state directory's file names, more "
			  "than the %d that fit (a byte outside [A-Za-z0-9_-] takes 3)", arg,
			  in_files, STATEDIR_PREFIX_MAX);
		return EXIT_INPUT;
	}
	c->table = arg;
	return EXIT_OK;
}

static int set_controller(struct cli *c, const char *arg)
{
	c->controller = arg;
	return EXIT_OK;
}

static int set_class(struct cli *c, const char *arg)
{
	if (c->n_classes == MAX_CLASSES) {
		cli_error("at most %d --gateway-class names", MAX_CLASSES);
		return EXIT_INPUT;
	}
	c->classes[c->n_classes++] = arg;
	return EXIT_OK;
}

static int set_masquerade(struct cli *c, const char *arg)
{
	if (!strcmp(arg, "always"))
		c->masquerade = true;
	else if (!strcmp(arg, "never"))
		c->masquerade = false;
	else {
		cli_error("--masquerade: '%s' is not always or never", arg);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

static int set_debug(struct cli *c, const char *arg)
{
	if (strcmp(arg, "netlink")) {
		cli_error("--debug: '%s' is not a debug category (netlink)", arg);
		return EXIT_INPUT;
	}
	c->debug_netlink = true;
	return EXIT_OK;
}

static int set_listen(struct cli *c, const char *arg)
{
	c->listen = arg; /* parsed (and refused with its reason) where the server starts */
	return EXIT_OK;
}

static int set_log_format(struct cli *c, const char *arg)
{
	enum log_format f;

	if (log_format_parse(arg, &f) < 0) {
		cli_error("--log-format: '%s' is not a log format (" LOG_FORMAT_NAMES ")", arg);
		return EXIT_INPUT;
	}
	c->log_format = (int)f;
	return EXIT_OK;
}

static int set_log_level(struct cli *c, const char *arg)
{
	enum log_level l;

	if (log_level_parse(arg, &l) < 0) {
		cli_error("--log-level: '%s' is not a level (" LOG_LEVEL_NAMES ")", arg);
		return EXIT_INPUT;
	}
	c->log_level = (int)l;
	return EXIT_OK;
}

static int set_help(struct cli *c, const char *arg)
{
	c->help = true;
	return EXIT_OK;
}

struct option_def {
	const char *name;        /* --name */
	char short_name;         /* -x, or 0 */
	const char *arg;         /* the value's name in the usage; NULL: takes none */
	unsigned on;             /* ON() of every subcommand that takes it */
	int (*set)(struct cli *c, const char *arg);
	const char *help;
};

#define ALL (ON(SC__COUNT) - 1)

static const struct option_def options[] = {
	{ "file", 'f', "PATH", ON(SC_APPLY) | ON(SC_STATUS) | ON(SC_RUN), set_file,
	  "a file, a directory (its *.yaml, *.yml, *.json) or - for stdin; repeatable" },
	{ "output", 'o', "yaml|json", ON(SC_STATUS), set_output, "the status format" },
	{ "dry-run", 0, NULL, ON(SC_APPLY), set_dry_run, "print the ruleset, change nothing" },
	{ "allow-empty", 0, NULL, ON(SC_APPLY) | ON(SC_RUN), set_allow_empty,
	  "apply inputs that hold no Gateway API object (removes every listener)" },
	{ "state-dir", 0, "DIR", ON(SC_APPLY) | ON(SC_ROLLBACK) | ON(SC_RUN), set_state_dir,
	  "where snapshots are kept (default /var/lib/nftgate)" },
	{ "table", 0, "NAME", ON(SC_APPLY) | ON(SC_ROLLBACK) | ON(SC_RUN), set_table,
	  "the table inet NAME to own (default nftgate)" },
	{ "controller-name", 0, "NAME", ON(SC_APPLY) | ON(SC_STATUS) | ON(SC_RUN), set_controller,
	  "the controller name to answer to (default " DEFAULT_CONTROLLER ")" },
	{ "gateway-class", 0, "NAME", ON(SC_APPLY) | ON(SC_STATUS) | ON(SC_RUN), set_class,
	  "claim this class when no GatewayClass object exists; repeatable" },
	{ "masquerade", 0, "always|never", ON(SC_APPLY) | ON(SC_RUN), set_masquerade,
	  "masquerade forwarded connections (default always)" },
	{ "listen", 0, "ADDR:PORT", ON(SC_RUN), set_listen,
	  "serve /healthz, /readyz, /metrics here (default " "127.0.0.1:10266" ")" },
	{ "log-format", 0, "logfmt|json", ON(SC_RUN), set_log_format, "the log line format" },
	{ "log-level", 0, "LEVEL", ON(SC_RUN), set_log_level,
	  "the least level logged: " LOG_LEVEL_NAMES " (default info)" },
	{ "debug", 0, "netlink", ON(SC_APPLY), set_debug, "print each rule's bytecode" },
	{ "help", 'h', NULL, ALL, set_help, "print this and do nothing else" },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* "apply, status": the subcommands that take o. */
static void where_taken(const struct option_def *o, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < SC__COUNT; i++)
		if (o->on & ON(i))
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
						off ? ", " : "", subcommands[i].name);
}

static void usage(FILE *out, const char *prog)
{
	char where[128];

	fprintf(out, "Usage:\n");
	for (int i = 0; i < SC__COUNT; i++)
		fprintf(out, "  %s %s %s\n", prog, subcommands[i].name, subcommands[i].usage);
	fprintf(out, "Options (and the commands that take them):\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];
		char lhs[64];

		if (o->short_name)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->short_name, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		where_taken(o, where, sizeof(where));
		fprintf(out, "  %-30s %s [%s]\n", lhs, o->help, o->on == ALL ? "all" : where);
	}
	fprintf(out, "Exit status: 0 done, 1 the kernel or system refused, 2 bad usage or input, "
		"3 the outcome of a transaction is unknown.\n");
}

static const struct subcommand *find_subcommand(const char *name, unsigned *ret_bit)
{
	for (int i = 0; i < SC__COUNT; i++)
		if (!strcmp(subcommands[i].name, name)) {
			*ret_bit = ON(i);
			return &subcommands[i];
		}
	return NULL;
}

/* getopt_long's tables, from ours: long option i returns OPT_BASE + i, a short one its
 * letter; ':' first, so that a missing value is told apart from an unknown option. */
static void getopt_tables(struct option *lo, char *so)
{
	size_t k = 0;

	so[k++] = ':';
	for (size_t i = 0; i < N_OPTIONS; i++) {
		lo[i] = (struct option){ options[i].name, options[i].arg ? required_argument :
					 no_argument, NULL, OPT_BASE + (int)i };
		if (options[i].short_name) {
			so[k++] = options[i].short_name;
			if (options[i].arg)
				so[k++] = ':';
		}
	}
	lo[N_OPTIONS] = (struct option){ 0 };
	so[k] = '\0';
}

static const struct option_def *option_of(int opt)
{
	if (opt >= OPT_BASE && (size_t)(opt - OPT_BASE) < N_OPTIONS)
		return &options[opt - OPT_BASE];
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (options[i].short_name && options[i].short_name == opt)
			return &options[i];
	return NULL;
}

static int misplaced(const struct subcommand *sc, const struct option_def *o)
{
	char where[128];

	where_taken(o, where, sizeof(where));
	cli_error("%s: --%s is not an option of %s (only of %s)", sc->name, o->name, sc->name,
		  where);
	return EXIT_INPUT;
}

/* argv[0] is the subcommand. */
static int parse_options(const struct subcommand *sc, unsigned bit, int argc, char **argv,
			 struct cli *c)
{
	struct option lo[N_OPTIONS + 1];
	char so[2 * N_OPTIONS + 2];
	int opt;

	getopt_tables(lo, so);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const struct option_def *o = option_of(opt);
		int r;

		if (opt == ':') {
			cli_error("%s: option '%s' needs a value", sc->name, argv[optind - 1]);
			return EXIT_INPUT;
		}
		if (!o) {
			cli_error("%s: unknown option '%s'", sc->name, argv[optind - 1]);
			return EXIT_INPUT;
		}
		if (!(o->on & bit))
			return misplaced(sc, o);
		r = o->set(c, optarg);
		if (r != EXIT_OK)
			return r;
	}
	if (optind < argc) {
		cli_error("%s: unexpected argument '%s'", sc->name, argv[optind]);
		return EXIT_INPUT;
	}
	if (sc->needs_file && !c->n_paths && !c->help) {
		cli_error("%s needs at least one -f PATH", sc->name);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

int cli_main(int argc, char **argv, const struct seams *seams)
{
	static const char *paths[MAX_PATHS], *classes[MAX_CLASSES];
	struct cli c = {
		.prog = "nftgate",
		.paths = paths,
		.classes = classes,
		.state_dir = "/var/lib/nftgate",
		.table = "nftgate",
		.controller = DEFAULT_CONTROLLER,
		.output = OUTPUT_YAML,
		.masquerade = true,
		.log_format = LOG_FORMAT_LOGFMT,
		.log_level = LOG_LEVEL_INFO,
		.seams = seams,
	};
	const struct subcommand *sc;
	unsigned bit = 0;
	int r;

	if (argc < 2) {
		usage(stderr, c.prog);
		return EXIT_INPUT;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout, c.prog);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(&c);
	sc = find_subcommand(argv[1], &bit);
	if (!sc) {
		cli_error("'%s' is not a command (apply, rollback, status, run, version)", argv[1]);
		return EXIT_INPUT;
	}
	c.command = sc->name;
	r = parse_options(sc, bit, argc - 1, argv + 1, &c);
	if (r != EXIT_OK)
		return r;
	if (c.help) {
		usage(stdout, c.prog);
		return EXIT_OK;
	}
	return sc->run(&c);
}
