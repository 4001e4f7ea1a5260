/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cpns.h
 * @brief Common definitions of libcpns: the error enum, limits shared by every
 * entity, and the export macro. Include <cpns/client.h> for the CPNS-5 API.
 */
#ifndef CPNS_CPNS_H
#define CPNS_CPNS_H

#include <stddef.h>
#include <stdint.h>

#include <cpns/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CPNS_BUILDING_LIB)
#define CPNS_EXPORT __attribute__((visibility("default")))
#else
#define CPNS_EXPORT
#endif

/** Every int-returning libcpns function returns 0 or one of these (negative). */
typedef enum cpns_err {
  CPNS_OK = 0,
  CPNS_ERR_NOMEM = -1,      /**< out of memory */
  CPNS_ERR_INVAL = -2,      /**< invalid argument or malformed input */
  CPNS_ERR_TOOBIG = -3,     /**< a size limit was exceeded */
  CPNS_ERR_NOTFOUND = -4,   /**< no such PN, entity or resource */
  CPNS_ERR_DENIED = -5,     /**< the caller may not do this (4.03) */
  CPNS_ERR_UNAUTH = -6,     /**< the caller is not authenticated (4.01) */
  CPNS_ERR_EXISTS = -7,     /**< already exists / conflicting state (4.09) */
  CPNS_ERR_LIMIT = -8,      /**< a configured capacity is exhausted (5.03) */
  CPNS_ERR_TIMEOUT = -9,    /**< no answer in time */
  CPNS_ERR_IO = -10,        /**< network or file I/O failed */
  CPNS_ERR_STORE = -11,     /**< the persistent store failed */
  CPNS_ERR_PROTO = -12,     /**< the peer answered something unexpected */
  CPNS_ERR_CONFIG = -13,    /**< bad configuration */
  CPNS_ERR_UNAVAIL = -14,   /**< an upstream entity is unreachable (5.03/5.04) */
  CPNS_ERR_CRYPTO = -15,    /**< a cryptographic operation failed */
} cpns_err;

/** A short, static English text for an error code. Never NULL. */
CPNS_EXPORT const char *cpns_strerror(int err);

/** The library version, e.g. "0.1.0". */
CPNS_EXPORT const char *cpns_version(void);

/* Size limits of identifiers; decoders reject anything longer. */
#define CPNS_ID_MAX 64          /**< entity or PN id, bytes, without NUL */
#define CPNS_NAME_MAX 128       /**< human-readable name, bytes */
#define CPNS_TYPE_MAX 64        /**< device type, bytes */
#define CPNS_ADDR_MAX 96        /**< textual address "[v6]:port", bytes */
#define CPNS_PSK_LEN 32         /**< Entity-User Key length, bytes (256 bits) */

/** Roles an entity plays (spec 5.5.6, Appendix B.2); a bit set. */
typedef enum cpns_role {
  CPNS_ROLE_PNE = 1u << 0,
  CPNS_ROLE_GW = 1u << 1,
} cpns_role;

#ifdef __cplusplus
}
#endif
#endif
