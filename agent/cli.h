/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parsed command line, shared by every subcommand, and the exit statuses they return.
 */
#ifndef NFTGATE_AGENT_CLI_H
#define NFTGATE_AGENT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "model/plan.h"
#include "model/status.h"
#include "model/objects.h"

struct seams;

enum exit_status {
	EXIT_OK = 0,
	EXIT_REFUSED = 1, /* the kernel or the system refused; nothing changed */
	EXIT_INPUT = 2,   /* bad usage or bad input; nothing changed */
	EXIT_UNKNOWN = 3, /* the transaction was sent but whether it committed cannot be told:
			   * the ruleset may have changed (docs/rollback.md, "Outcome unknown") */
};

enum output_format { OUTPUT_YAML, OUTPUT_JSON };

struct cli {
	const char *prog;
	const char *command;      /* the subcommand's name */
	const char **paths;        /* -f, in order */
	size_t n_paths;
	bool dry_run;
	const char *listen;
	int log_format, log_level;
	bool allow_empty;          /* --allow-empty: apply inputs without a Gateway API object */
	bool help;                 /* -h, --help: print the usage and do nothing else */
	const char *state_dir;     /* default /var/lib/nftgate */
	const char *table;         /* default "nftgate" */
	const char *controller;    /* default DEFAULT_CONTROLLER */
	const char **classes;      /* --gateway-class */
	size_t n_classes;
	enum output_format output;
	bool masquerade;           /* --masquerade=always (default) | never */
	bool debug_netlink;        /* --debug=netlink: print each rule's bytecode */
	const struct seams *seams; /* test seams (agent/seams.h); NULL in nftgate itself */
};

/* The whole command line: parses argv, runs the subcommand, returns the exit status. seams
 * is NULL but in the test binary (tests/faults). */
int cli_main(int argc, char **argv, const struct seams *seams);

/* Reads every -f path, validates, and resolves. Prints every input error to stderr. On
 * success returns EXIT_OK and sets the outputs (caller frees); else returns EXIT_INPUT or
 * EXIT_REFUSED and sets nothing. Any output pointer may be NULL when not wanted. */
int cli_load(const struct cli *c, struct store **ret_store, struct plan **ret_plan,
	     struct status_set **ret_status);

/* Prints "nftgate: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_status(const struct cli *c);
int cmd_apply(const struct cli *c);
int cmd_rollback(const struct cli *c);

#endif
