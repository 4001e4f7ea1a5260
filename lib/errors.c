/* SPDX-License-Identifier: Apache-2.0 */
/* Error texts and the library version. */
#include <cpns/cpns.h>

const char *cpns_strerror(int err) {
  switch ((cpns_err)err) {
  case CPNS_OK: return "success";
  case CPNS_ERR_NOMEM: return "out of memory";
  case CPNS_ERR_INVAL: return "invalid argument or malformed input";
  case CPNS_ERR_TOOBIG: return "size limit exceeded";
  case CPNS_ERR_NOTFOUND: return "not found";
  case CPNS_ERR_DENIED: return "permission denied";
  case CPNS_ERR_UNAUTH: return "not authenticated";
  case CPNS_ERR_EXISTS: return "already exists or conflicts";
  case CPNS_ERR_LIMIT: return "capacity limit reached";
  case CPNS_ERR_TIMEOUT: return "timed out";
  case CPNS_ERR_IO: return "I/O error";
  case CPNS_ERR_STORE: return "storage error";
  case CPNS_ERR_PROTO: return "protocol error";
  case CPNS_ERR_CONFIG: return "configuration error";
  case CPNS_ERR_UNAVAIL: return "service unavailable";
  case CPNS_ERR_CRYPTO: return "cryptographic failure";
  }
  return "unknown error";
}

const char *cpns_version(void) { return CPNS_VERSION_STRING; }
