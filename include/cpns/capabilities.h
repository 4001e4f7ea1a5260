/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file capabilities.h
 * @brief Device capabilities (spec 5.5.1) for applications: read what a
 * PNE or PN GW reported about its hardware and software (static) and its
 * current state (dynamic), for one entity, for every entity of a PN, or
 * for the PNE the application runs on.
 *
 * Every PNE reports its own capabilities to its gateway (the agent reads
 * the host and its configuration; see cpns-pne(8)); the gateway keeps a
 * copy and reports them, with its own, to the server. Who may read them is
 * who may read the PN's inventory: the PN's members and gateway, the
 * operator, and another PN's gateway only when the PN's owner lists that
 * PN among its readers (docs/security.md). The resources, the document
 * schema and its limits are described in docs/protocol.md, "Device
 * capabilities".
 *
 * The calls that take a cpns_client_t are synchronous requests on that
 * client (see client.h: one answer awaited, at most the client's timeout; a
 * client is not thread-safe).
 *
 * Errors: every int-returning function returns 0 or a negative cpns_err.
 *   - CPNS_ERR_INVAL for an invalid argument (a NULL pointer, an id that is
 *     not 1..64 bytes of [A-Za-z0-9._-]): nothing is sent.
 *   - The peer's refusal as mapped by client.h (CPNS_ERR_DENIED for 4.03,
 *     CPNS_ERR_NOTFOUND for 4.04: no such entity, or it has reported no
 *     capabilities yet): cpns_client_status() gives the CoAP code and
 *     cpns_client_error() the peer's diagnostic.
 *   - CPNS_ERR_PROTO when a successful answer is not a valid capability
 *     document (checked against the same schema and limits as the peers
 *     check); nothing is stored in the out arguments then.
 *
 * @code
 *   cpns_capabilities_t *caps;
 *   if (cpns_capabilities_get(c, "home", "phone", &caps) == 0) {
 *     if (caps->battery_level >= 0) printf("battery %d%%\n", caps->battery_level);
 *     for (size_t i = 0; i < caps->napps; i++)
 *       printf("%s %s\n", caps->apps[i].name, caps->apps[i].value);
 *     cpns_capabilities_free(caps);
 *   }
 * @endcode
 */
#ifndef CPNS_CPNS_CAPABILITIES_H
#define CPNS_CPNS_CAPABILITIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cpns/client.h>
#include <cpns/cpns.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of a capability document; every peer refuses more (4.13) and
 * this library refuses answers that break them (CPNS_ERR_PROTO). */
#define CPNS_CAPDOC_TEXT_MAX 16384   /**< bytes of a whole document as compact JSON */
#define CPNS_CAPDOC_NAME_MAX 64      /**< bytes of a name: application, driver, chipset role,
                                          network interface ([A-Za-z0-9._+-]) */
#define CPNS_CAPDOC_VERSION_MAX 64   /**< bytes of a version text */
#define CPNS_CAPDOC_LABEL_MAX 128    /**< bytes of a model, chipset or OS build text */
#define CPNS_CAPDOC_WORD_MAX 32      /**< bytes of a short text: architecture, battery technology */
#define CPNS_CAPDOC_APPS_MAX 64      /**< installed applications */
#define CPNS_CAPDOC_DRIVERS_MAX 64   /**< installed drivers */
#define CPNS_CAPDOC_CHIPSETS_MAX 16  /**< chipsets */
#define CPNS_CAPDOC_NETWORKS_MAX 16  /**< networks in use */
#define CPNS_CAPDOC_ADDRS_MAX 8      /**< addresses of one network */
#define CPNS_CAPDOC_ADDR_MAX 45      /**< bytes of a textual IPv4 or IPv6 address */
#define CPNS_CAPDOC_RUNNING_MAX 64   /**< running applications */
#define CPNS_CAPDOC_ACTIVE_MAX 64    /**< active drivers */
#define CPNS_CAPDOC_SCREEN_PX_MAX 65535          /**< screen width and height, pixels */
#define CPNS_CAPDOC_DPI_MAX 10000                /**< screen density, dots per inch */
#define CPNS_CAPDOC_CORES_MAX 4096               /**< processor cores */
#define CPNS_CAPDOC_MAH_MAX 10000000             /**< battery capacity, mAh */
#define CPNS_CAPDOC_MWH_MAX 1000000000           /**< battery capacity, mWh */
#define CPNS_CAPDOC_BYTES_MAX (1LL << 60)        /**< memory sizes, bytes */
#define CPNS_CAPDOC_REMAINING_MAX 31536000       /**< remaining battery time, seconds (a year) */
#define CPNS_CAPDOC_PATCH_DEPTH_MAX 8            /**< nesting of a merge patch */

/** A named text: an installed application or driver with its version, or a
 * chipset with its role as the name. */
typedef struct cpns_capability_item {
  char name[CPNS_CAPDOC_NAME_MAX + 1];
  char value[CPNS_CAPDOC_LABEL_MAX + 1];
} cpns_capability_item_t;

/** A name alone: a running application, an active driver. */
typedef struct cpns_capability_name {
  char name[CPNS_CAPDOC_NAME_MAX + 1];
} cpns_capability_name_t;

/** A network the device uses now. */
typedef struct cpns_capability_network {
  char name[CPNS_CAPDOC_NAME_MAX + 1]; /**< the interface, e.g. "wlan0" */
  char type[16];                       /**< "ethernet", "wifi", "bluetooth", "nfc", "gsm",
                                            "cdma", "umts", "lte", "nr", "cellular", "zigbee",
                                            "other", or "" when not said */
  size_t naddrs;
  char addrs[CPNS_CAPDOC_ADDRS_MAX][CPNS_CAPDOC_ADDR_MAX + 1];
} cpns_capability_network_t;

/**
 * One entity's capabilities. Numbers the document does not give are -1;
 * texts it does not give are "". Arrays are owned by the struct; free the
 * whole with cpns_capabilities_free().
 */
typedef struct cpns_capabilities {
  char pn[CPNS_ID_MAX + 1]; /**< the entity's PN ("" from cpns_capabilities_decode()) */
  char id[CPNS_ID_MAX + 1]; /**< the entity */
  int64_t rev;              /**< the holder's revision, +1 on every change; -1 unknown */
  int64_t updated;          /**< unix seconds of the last change; -1 unknown */
  /* static */
  char device_type[CPNS_TYPE_MAX + 1];
  long screen_width, screen_height, screen_dpi; /**< pixels, dots per inch */
  int screen_touch;                              /**< 1, 0, or -1 */
  long battery_capacity_mah, battery_capacity_mwh;
  char battery_technology[CPNS_CAPDOC_WORD_MAX + 1];
  char cpu_model[CPNS_CAPDOC_LABEL_MAX + 1];
  char cpu_arch[CPNS_CAPDOC_WORD_MAX + 1];
  long cpu_cores;
  int64_t memory_total; /**< bytes */
  char os_name[CPNS_CAPDOC_VERSION_MAX + 1];
  char os_version[CPNS_CAPDOC_VERSION_MAX + 1];
  char os_build[CPNS_CAPDOC_LABEL_MAX + 1];
  size_t nchipsets;
  cpns_capability_item_t *chipsets; /**< name: the role ("main", "network"...) */
  size_t napps;
  cpns_capability_item_t *apps;     /**< value: the version */
  size_t ndrivers;
  cpns_capability_item_t *drivers;  /**< value: the version */
  /* dynamic */
  size_t nnetworks;
  cpns_capability_network_t *networks;
  int64_t memory_available;  /**< bytes */
  int battery_level;         /**< percent */
  int battery_charging;      /**< 1, 0, or -1 */
  int64_t battery_remaining; /**< seconds */
  size_t nrunning;
  cpns_capability_name_t *running;
  size_t nactive_drivers;
  cpns_capability_name_t *active_drivers;
  /** The document's "static" and "dynamic" parts as JSON text, with any
   * member a newer peer adds: {"static":{...},"dynamic":{...}}. */
  char *json;
} cpns_capabilities_t;

/** A page of one PN's capabilities, ordered by entity id. */
typedef struct cpns_capabilities_page {
  char pn[CPNS_ID_MAX + 1];
  size_t count;
  cpns_capabilities_t **items;
  char next[CPNS_ID_MAX + 1]; /**< pass as after for the next page; "" when none */
} cpns_capabilities_page_t;

/**
 * The capabilities entity id of PN pn reported (GET
 * pns/{pn}/entities/{id}/caps). On success *out is new, freed with
 * cpns_capabilities_free(); on failure *out is NULL. Strings borrowed.
 */
CPNS_EXPORT int cpns_capabilities_get(cpns_client_t *c, const char *pn, const char *id,
                                      cpns_capabilities_t **out);

/**
 * A page of the capabilities of PN pn's entities (GET pns/{pn}/caps): the
 * entities after after (NULL or "" for the first), at most limit of them
 * (0: the peer's page size). Entities that reported nothing are left out.
 * Free with cpns_capabilities_page_free().
 */
CPNS_EXPORT int cpns_capabilities_list(cpns_client_t *c, const char *pn, const char *after,
                                       unsigned limit, cpns_capabilities_page_t **out);

/**
 * The capabilities of the PNE the client talks to, as it reports them now
 * (GET self/caps, CPNS-5). rev is the revision its gateway acknowledged
 * (0 before the first report).
 */
CPNS_EXPORT int cpns_capabilities_self(cpns_client_t *c, cpns_capabilities_t **out);

/**
 * Decodes one capability document as JSON text: an answer of the resources
 * above, or a notification an application received itself (Observe on the
 * same resources). Checked against the schema and limits: CPNS_ERR_PROTO
 * otherwise. Free with cpns_capabilities_free(); text is borrowed.
 */
CPNS_EXPORT int cpns_capabilities_decode(const char *text, cpns_capabilities_t **out);

/**
 * Called by cpns_capabilities_watch() with the capabilities as they are
 * when the watch starts and again after every change: a page of one PN's
 * documents (its first page), or a page holding the one entity watched.
 * The page is borrowed for the call. Return 0 to go on watching, anything
 * else to stop.
 */
typedef int (*cpns_capabilities_watch_fn)(void *arg, const cpns_capabilities_page_t *page);

/**
 * Follows changes (RFC 7641 Observe on the capability resource): the
 * capabilities of entity id of pn, or of PN pn's first page when id is
 * NULL. Runs the client until fn returns non-zero or duration_ms have
 * passed (0: no end), and returns 0 then. Otherwise: the peer's refusal
 * (the first answer's, or one told later, e.g. CPNS_ERR_DENIED when the
 * caller lost its right, CPNS_ERR_NOTFOUND when the entity left),
 * CPNS_ERR_UNAVAIL when the session went away, when the peer serves the
 * resource without Observe (its observable resources are exhausted: fn
 * got the document once), or when it has as many observers as it takes
 * (5.03, see cpns_client_status()). Observe a peer directly: a PNE relays
 * reads to its gateway but not observations. Strings borrowed.
 */
CPNS_EXPORT int cpns_capabilities_watch(cpns_client_t *c, const char *pn, const char *id,
                                        long duration_ms, cpns_capabilities_watch_fn fn,
                                        void *arg);

/** Frees what the calls above return. NULL does nothing. */
CPNS_EXPORT void cpns_capabilities_free(cpns_capabilities_t *caps);
CPNS_EXPORT void cpns_capabilities_page_free(cpns_capabilities_page_t *page);

#ifdef __cplusplus
}
#endif
#endif
