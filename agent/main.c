/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftgate. The command line lives in agent/cli.c (in the library, so that the test binary
 * tests/faults can run the same commands with its seams); nftgate itself installs none.
 */
#include "agent/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv, NULL);
}
