/* SPDX-License-Identifier: Apache-2.0 */
/* Device capability documents (spec 5.5.1): the schema, a strict decoder
 * that bounds every field and says what was wrong in words fit for a 4.00
 * (or 4.13) diagnostic, and the JSON merge patches (RFC 7386) that carry
 * only what changed between two documents. Pure: no I/O, no clock; the
 * json_t trees are Jansson's. docs/protocol.md ("Device capabilities")
 * documents the same schema for users; the limits are the public ones of
 * <cpns/capabilities.h>.
 *
 * A document is a map with two optional members, "static" and "dynamic":
 *
 *   static.device_type                       text
 *   static.hardware.screen{width,height,dpi,touch}
 *   static.hardware.battery{capacity_mah,capacity_mwh,technology}
 *   static.hardware.processor{model,arch,cores}
 *   static.hardware.memory{total}            bytes
 *   static.hardware.chipsets{ROLE: text}     e.g. main, network, accelerator
 *   static.software.os{name,version,build}
 *   static.software.apps{NAME: version}      installed applications
 *   static.software.drivers{NAME: version}   drivers for the hardware
 *   dynamic.networks{IFNAME: {type, addrs[]}} networks in use
 *   dynamic.memory{available}                bytes
 *   dynamic.battery{level,charging,remaining}
 *   dynamic.running[NAME]                    running applications
 *   dynamic.drivers[NAME]                    active drivers
 *
 * Every member is optional; none may be null (a merge patch could not carry
 * it). Collections a patch must change one entry of are maps keyed by name;
 * the two short lists are replaced whole. */
#ifndef CPNS_CAPABILITIES_INTERNAL_H
#define CPNS_CAPABILITIES_INTERNAL_H

#include <cpns/capabilities.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Network types a document may name (dynamic.networks.*.type). */
#define CPNS_CAPDOC_NET_TYPES                                                          \
  "ethernet", "wifi", "bluetooth", "nfc", "gsm", "cdma", "umts", "lte", "nr", "cellular", \
      "zigbee", "other"

/* Checks doc against the schema and the limits. 0, CPNS_ERR_INVAL (a wrong
 * type, a value out of range, an unknown member, a malformed name or
 * address, a duplicate: 4.00) or CPNS_ERR_TOOBIG (too many entries, a text
 * too long, the whole document longer than CPNS_CAPDOC_TEXT_MAX bytes as
 * compact JSON: 4.13), with the reason and where (e.g.
 * "dynamic.battery.level: 150 is not within 0..100") in err. doc is
 * borrowed. */
int cpns_capdoc_check(const json_t *doc, char *err, size_t errlen);

/* The document as compact JSON with sorted keys: equal documents give
 * equal text. NULL when out of memory (or doc is not valid JSON); free with
 * free(). */
char *cpns_capdoc_text(const json_t *doc);

/* Parses a stored or received document text (at most CPNS_CAPDOC_TEXT_MAX
 * bytes) and checks it. 0 and *out (new reference), or the error of
 * cpns_capdoc_check (CPNS_ERR_INVAL also for text that is not JSON). */
int cpns_capdoc_parse_text(const char *text, json_t **out, char *err, size_t errlen);

/* The merge patch (RFC 7386) that takes document from to document to: the
 * members that changed, null for those removed; an empty object when they
 * are equal. Both are borrowed and must be valid documents (no nulls). New
 * reference; NULL when out of memory. */
json_t *cpns_capdoc_diff(const json_t *from, const json_t *to);

/* Applies a merge patch to a copy of doc (RFC 7386 §2) and checks the
 * result: 0 and *out (new reference), CPNS_ERR_INVAL for a patch that is
 * not a map or deeper than CPNS_CAPDOC_PATCH_DEPTH_MAX, or the error of
 * cpns_capdoc_check for the result, with the reason in err. doc and patch
 * are borrowed; doc NULL is the empty document. */
int cpns_capdoc_merge(const json_t *doc, const json_t *patch, json_t **out, char *err,
                      size_t errlen);

/* True when the patch changes nothing (an empty object). */
bool cpns_capdoc_patch_empty(const json_t *patch);

#endif
