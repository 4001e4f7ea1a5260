/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl's status management commands (status ..., policy ..., reports),
 * in cpnsctl_status.c. argv[0] is the subcommand; json prints the answers
 * as JSON. Each returns an exit code of cpnsctl.h. */
#ifndef CPNSCTL_STATUS_H
#define CPNSCTL_STATUS_H

#include <cpns/client.h>
#include <stdbool.h>

int ctl_status_command(cpns_client_t *c, bool json, int argc, char **argv);
int ctl_policy_command(cpns_client_t *c, bool json, int argc, char **argv);
int ctl_reports_command(cpns_client_t *c, bool json, int argc, char **argv);
/* Their lines of cpnsctl --help. */
extern const char ctl_status_usage[];

#endif
