/* SPDX-License-Identifier: Apache-2.0 */
/* cpnsctl's parts: the exit codes every command shares, and the command
 * groups that live in files of their own beside cpnsctl.c. */
#ifndef CPNSCTL_H
#define CPNSCTL_H

#include <cpns/client.h>
#include <stdbool.h>

#define EXIT_REFUSED 1     /* the entity answered with an error */
#define EXIT_USAGE 2       /* the command line is wrong */
#define EXIT_UNREACHABLE 3 /* no answer, or a local failure */

/* cpnsctl_services.c: the Metadata Directory (service ..., interest ...).
 * argv[0] is the subcommand; json prints the answers as JSON. Return an
 * exit code. */
int ctl_service_command(cpns_client_t *c, bool json, int argc, char **argv);
int ctl_interest_command(cpns_client_t *c, bool json, int argc, char **argv);
/* Their lines of cpnsctl --help. */
extern const char ctl_services_usage[];

/* cpnsctl_caps.c: device capabilities (caps show [PN [ID]] [--watch]). */
int ctl_caps_command(cpns_client_t *c, bool json, int argc, char **argv);
extern const char ctl_caps_usage[];

/* cpnsctl_usage.c: usage statistics (usage record|pref|summary|counters). */
int ctl_usage_command(cpns_client_t *c, bool json, int argc, char **argv);
extern const char ctl_usage_usage[];
/* cpnsctl_tokens.c: CPNS-4 bearer tokens (token create|list|revoke). */
int ctl_token_command(cpns_client_t *c, bool json, int argc, char **argv);
extern const char ctl_tokens_usage[];

#endif
