/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftgate: the command line. One table of subcommands; each parses the common options
 * and hands a struct cli to its cmd_* function, which returns the exit status.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli.h"

#ifndef NFTGATE_VERSION
#define NFTGATE_VERSION "0.1"
#endif

#define MAX_PATHS 256
#define MAX_CLASSES 64

enum {
	OPT_STATE_DIR = 256,
	OPT_TABLE,
	OPT_CONTROLLER,
	OPT_CLASS,
	OPT_DRY_RUN,
	OPT_MASQ,
	OPT_DEBUG,
};

static const struct option long_options[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "controller-name", required_argument, NULL, OPT_CONTROLLER },
	{ "gateway-class", required_argument, NULL, OPT_CLASS },
	{ "masquerade", required_argument, NULL, OPT_MASQ },
	{ "debug", required_argument, NULL, OPT_DEBUG },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* Which options each subcommand takes, so a misplaced one is an error, not ignored. */
enum {
	TAKES_FILE = 1 << 0,
	TAKES_OUTPUT = 1 << 1,
	TAKES_DRY_RUN = 1 << 2,
	TAKES_STATE = 1 << 3,
	TAKES_TABLE = 1 << 4,
	TAKES_CLASS = 1 << 5,
	TAKES_MASQ = 1 << 6,
	TAKES_DEBUG = 1 << 7,
};

struct subcommand {
	const char *name;
	int (*run)(const struct cli *c);
	unsigned takes;
	bool needs_file;
	const char *usage;
};

static int cmd_version(const struct cli *c)
{
	printf("nftgate %s\n", NFTGATE_VERSION);
	return EXIT_OK;
}

static const struct subcommand subcommands[] = {
	{ "apply", cmd_apply,
	  TAKES_FILE | TAKES_DRY_RUN | TAKES_STATE | TAKES_TABLE | TAKES_CLASS | TAKES_MASQ |
		  TAKES_DEBUG,
	  true, "-f PATH... [--dry-run] [--state-dir DIR] [--table NAME] [--masquerade=always|never]" },
	{ "rollback", cmd_rollback, TAKES_STATE | TAKES_TABLE, false,
	  "[--state-dir DIR] [--table NAME]" },
	{ "status", cmd_status, TAKES_FILE | TAKES_OUTPUT | TAKES_CLASS, true,
	  "-f PATH... [-o yaml|json]" },
	{ "version", cmd_version, 0, false, "" },
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out, "Usage:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %s %s %s\n", prog, subcommands[i].name, subcommands[i].usage);
	fprintf(out,
		"Common: --controller-name NAME (default %s), --gateway-class NAME (repeatable)\n"
		"-f takes a file, a directory (its *.yaml, *.yml, *.json) or - for stdin.\n"
		"Exit status: 0 done, 1 the kernel or system refused, 2 bad usage or input.\n",
		DEFAULT_CONTROLLER);
}

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(subcommands[i].name, name))
			return &subcommands[i];
	return NULL;
}

/* Names the option the user typed, for "does not take" errors. */
static const char *option_name(int opt)
{
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

static int parse_options(const struct subcommand *sc, int argc, char **argv, struct cli *c)
{
	static const char *paths[MAX_PATHS];
	static const char *classes[MAX_CLASSES];
	int opt;

	c->paths = paths;
	c->classes = classes;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":f:o:h", long_options, NULL)) != -1) {
		unsigned need = 0;

		switch (opt) {
		case 'f': need = TAKES_FILE; break;
		case 'o': need = TAKES_OUTPUT; break;
		case OPT_DRY_RUN: need = TAKES_DRY_RUN; break;
		case OPT_STATE_DIR: need = TAKES_STATE; break;
		case OPT_TABLE: need = TAKES_TABLE; break;
		case OPT_CLASS: need = TAKES_CLASS; break;
		case OPT_MASQ: need = TAKES_MASQ; break;
		case OPT_DEBUG: need = TAKES_DEBUG; break;
		case OPT_CONTROLLER: break;
		case 'h':
			usage(stdout, c->prog);
			exit(EXIT_OK);
		case ':':
			cli_error("%s: option '%s' needs a value", sc->name, argv[optind - 1]);
			return EXIT_INPUT;
		default:
			cli_error("%s: unknown option '%s'", sc->name, argv[optind - 1]);
			return EXIT_INPUT;
		}
		if (need && !(sc->takes & need)) {
			cli_error("%s does not take --%s", sc->name,
				  opt == 'f' ? "file" : opt == 'o' ? "output" : option_name(opt));
			return EXIT_INPUT;
		}
		switch (opt) {
		case 'f':
			if (c->n_paths == MAX_PATHS) {
				cli_error("at most %d -f paths", MAX_PATHS);
				return EXIT_INPUT;
			}
			paths[c->n_paths++] = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "yaml"))
				c->output = OUTPUT_YAML;
			else if (!strcmp(optarg, "json"))
				c->output = OUTPUT_JSON;
			else {
				cli_error("-o: '%s' is not an output format (yaml, json)", optarg);
				return EXIT_INPUT;
			}
			break;
		case OPT_DRY_RUN: c->dry_run = true; break;
		case OPT_STATE_DIR: c->state_dir = optarg; break;
		case OPT_TABLE:
			if (!*optarg || strlen(optarg) > 255) {
				cli_error("--table: '%s' is not a table name (1 to 255 bytes)", optarg);
				return EXIT_INPUT;
			}
			c->table = optarg;
			break;
		case OPT_CONTROLLER: c->controller = optarg; break;
		case OPT_CLASS:
			if (c->n_classes == MAX_CLASSES) {
				cli_error("at most %d --gateway-class names", MAX_CLASSES);
				return EXIT_INPUT;
			}
			classes[c->n_classes++] = optarg;
			break;
		case OPT_MASQ:
			if (!strcmp(optarg, "always"))
				c->masquerade = true;
			else if (!strcmp(optarg, "never"))
				c->masquerade = false;
			else {
				cli_error("--masquerade: '%s' is not always or never", optarg);
				return EXIT_INPUT;
			}
			break;
		case OPT_DEBUG:
			if (strcmp(optarg, "netlink")) {
				cli_error("--debug: '%s' is not a debug category (netlink)", optarg);
				return EXIT_INPUT;
			}
			c->debug_netlink = true;
			break;
		}
	}
	if (optind < argc) {
		cli_error("%s: unexpected argument '%s'", sc->name, argv[optind]);
		return EXIT_INPUT;
	}
	if (sc->needs_file && !c->n_paths) {
		cli_error("%s needs at least one -f PATH", sc->name);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli c = {
		.prog = "nftgate",
		.state_dir = "/var/lib/nftgate",
		.table = "nftgate",
		.controller = DEFAULT_CONTROLLER,
		.output = OUTPUT_YAML,
		.masquerade = true,
	};
	const struct subcommand *sc;
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
	sc = find_subcommand(argv[1]);
	if (!sc) {
		cli_error("'%s' is not a command (apply, rollback, status, version)", argv[1]);
		return EXIT_INPUT;
	}
	r = parse_options(sc, argc - 1, argv + 1, &c);
	if (r != EXIT_OK)
		return r;
	return sc->run(&c);
}
