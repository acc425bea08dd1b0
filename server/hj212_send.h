/* `jialing hj212-send`, the HJ 212 data-logger simulator (server/hj212_send.c), as the CLI's
 * dispatcher in server/cli.c calls it. Internal to the jialing tool. */
#ifndef JIALING_SERVER_HJ212_SEND_H
#define JIALING_SERVER_HJ212_SEND_H

#include <stdio.h>

/* Runs the subcommand with argv[0] == "hj212-send". Returns the process exit status: 0 when
 * every message was acknowledged, 1 when some were lost or the run failed, 2 on a usage error. */
int cmd_hj212_send(int argc, char **argv);

/* Prints the subcommand's help text to out (its part of `jialing --help`). */
void hj212_send_usage(FILE *out);

#endif
