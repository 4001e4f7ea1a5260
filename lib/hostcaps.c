/* SPDX-License-Identifier: Apache-2.0 */
/* What Linux tells about the device (see hostcaps.h). Each reader adds
 * what it found to a document and leaves out what it could not read or
 * what does not fit the schema; the whole is checked at the end. */
#include "hostcaps.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "capabilities.h"
#include "log.h"

#define PROC_CPUINFO "/proc/cpuinfo"
#define PROC_MEMINFO "/proc/meminfo"
#define SYS_NET "/sys/class/net"
#define POWER_SUPPLIES_MAX 16 /* entries of the power supply directory looked at */
#define HOSTCAPS_DIAG_MAX 160   /* bytes of a reason logged */

struct cpns_hostcaps {
  const char *mod;
  bool host;
  char file[4096];
  char power_supply_dir[4096];
  char device_type[CPNS_TYPE_MAX + 1];
  json_t *static_part; /* {"device_type", "hardware", "software"} */
  json_t *overrides;   /* the file's merge patch, or NULL */
  struct timespec file_mtime;
  off_t file_size;
  bool file_seen;
};

/* ---- small readers ---- */

/* The first line of a small file, without its newline; false if none. */
static bool read_line(const char *path, char *out, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(out, (int)len, f) != NULL;
  fclose(f);
  if (!ok) return false;
  out[strcspn(out, "\r\n")] = '\0';
  return true;
}

static bool read_long(const char *path, long long *out) {
  char line[64];
  if (!read_line(path, line, sizeof line)) return false;
  char *end;
  errno = 0;
  long long v = strtoll(line, &end, 10);
  if (errno || end == line || (*end && *end != ' ')) return false;
  *out = v;
  return true;
}

/* Trims s and cuts it to max bytes (at a UTF-8 boundary); control
 * characters become spaces. Returns s, or NULL when nothing is left. */
static char *tidy(char *s, size_t max) {
  for (char *p = s; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
  while (*s == ' ') s++;
  size_t n = strlen(s);
  if (n > max) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--; /* not inside a character */
  }
  while (n > 0 && s[n - 1] == ' ') n--;
  s[n] = '\0';
  return n ? s : NULL;
}

/* Sets obj.a.b.key = v (stolen), making the maps on the way; a or b may be NULL. */
static void put(json_t *obj, const char *a, const char *b, const char *key, json_t *v) {
  if (!v) return;
  json_t *at = obj;
  const char *path[2] = {a, b};
  for (int i = 0; i < 2 && path[i]; i++) {
    json_t *next = json_object_get(at, path[i]);
    if (!next) {
      next = json_object();
      json_object_set_new(at, path[i], next);
    }
    at = next;
  }
  json_object_set_new(at, key, v);
}

static void put_text(json_t *obj, const char *a, const char *b, const char *key, char *s,
                     size_t max) {
  s = tidy(s, max);
  if (s) put(obj, a, b, key, json_string(s));
}

/* A value of /proc/meminfo in bytes ("MemTotal:  16314756 kB"). */
static bool meminfo(const char *field, long long *bytes) {
  FILE *f = fopen(PROC_MEMINFO, "r");
  if (!f) return false;
  char line[CPNS_HOSTCAPS_LINE_MAX];
  size_t flen = strlen(field);
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    long long kb;
    if (strncmp(line, field, flen) == 0 && line[flen] == ':' &&
        sscanf(line + flen + 1, "%lld", &kb) == 1 && kb >= 0 && kb <= CPNS_CAPDOC_BYTES_MAX / 1024) {
      *bytes = kb * 1024;
      found = true;
    }
  }
  fclose(f);
  return found;
}

/* ---- static: processor, memory, battery, OS ---- */

static void read_processor(json_t *hw) {
  FILE *f = fopen(PROC_CPUINFO, "r");
  long cores = 0;
  char model[CPNS_HOSTCAPS_LINE_MAX] = "";
  if (f) {
    char line[CPNS_HOSTCAPS_LINE_MAX];
    /* x86 says "model name", ARM "Hardware" or "Processor", MIPS "cpu model". */
    static const char *const model_keys[] = {"model name", "Hardware", "Processor", "cpu model", NULL};
    int model_rank = 99;
    while (fgets(line, sizeof line, f)) {
      char *colon = strchr(line, ':');
      if (!colon) continue;
      size_t klen = (size_t)(colon - line);
      while (klen > 0 && (line[klen - 1] == '\t' || line[klen - 1] == ' ')) klen--;
      if (klen == 9 && strncmp(line, "processor", 9) == 0) {
        if (cores < CPNS_CAPDOC_CORES_MAX) cores++;
        continue;
      }
      for (int i = 0; model_keys[i] && i < model_rank; i++)
        if (strlen(model_keys[i]) == klen && strncmp(line, model_keys[i], klen) == 0) {
          snprintf(model, sizeof model, "%s", colon + 1);
          model_rank = i;
        }
    }
    fclose(f);
  }
  if (cores < 1) cores = sysconf(_SC_NPROCESSORS_CONF);
  if (cores >= 1 && cores <= CPNS_CAPDOC_CORES_MAX) put(hw, "processor", NULL, "cores", json_integer(cores));
  put_text(hw, "processor", NULL, "model", model, CPNS_CAPDOC_LABEL_MAX);
  struct utsname u;
  if (uname(&u) == 0) put_text(hw, "processor", NULL, "arch", u.machine, CPNS_CAPDOC_WORD_MAX);
  long long total;
  if (meminfo("MemTotal", &total)) put(hw, "memory", NULL, "total", json_integer(total));
}

/* The first power supply of type Battery, as a directory path; false if none. */
static bool find_battery(const char *dir, char *out, size_t len) {
  DIR *d = opendir(dir);
  if (!d) return false;
  struct dirent *de;
  bool found = false;
  for (unsigned seen = 0; !found && seen < POWER_SUPPLIES_MAX && (de = readdir(d)); seen++) {
    if (de->d_name[0] == '.') continue;
    char path[4096 + 2 * 256], type[32];
    snprintf(path, sizeof path, "%s/%s/type", dir, de->d_name);
    if (read_line(path, type, sizeof type) && strcmp(type, "Battery") == 0) {
      snprintf(out, len, "%s/%s", dir, de->d_name);
      found = true;
    }
  }
  closedir(d);
  return found;
}

static void read_battery_static(const char *dir, json_t *hw) {
  char bat[4096 + 300], path[4096 + 400], text[CPNS_HOSTCAPS_LINE_MAX];
  if (!find_battery(dir, bat, sizeof bat)) return;
  long long v;
  /* The kernel reports µAh and µWh. */
  snprintf(path, sizeof path, "%s/charge_full_design", bat);
  if (read_long(path, &v) && v / 1000 >= 1 && v / 1000 <= CPNS_CAPDOC_MAH_MAX)
    put(hw, "battery", NULL, "capacity_mah", json_integer(v / 1000));
  snprintf(path, sizeof path, "%s/energy_full_design", bat);
  if (read_long(path, &v) && v / 1000 >= 1 && v / 1000 <= CPNS_CAPDOC_MWH_MAX)
    put(hw, "battery", NULL, "capacity_mwh", json_integer(v / 1000));
  snprintf(path, sizeof path, "%s/technology", bat);
  if (read_line(path, text, sizeof text) && strcmp(text, "Unknown") != 0)
    put_text(hw, "battery", NULL, "technology", text, CPNS_CAPDOC_WORD_MAX);
}

json_t *cpns_hostcaps_read_static(const struct cpns_hostcaps_config *cfg) {
  json_t *st = json_object();
  if (!st) return NULL;
  if (cfg->device_type && *cfg->device_type) {
    char t[CPNS_TYPE_MAX + 1];
    snprintf(t, sizeof t, "%s", cfg->device_type);
    put_text(st, NULL, NULL, "device_type", t, CPNS_TYPE_MAX);
  }
  if (!cfg->host) return st;
  json_t *hw = json_object();
  read_processor(hw);
  if (cfg->power_supply_dir && *cfg->power_supply_dir) read_battery_static(cfg->power_supply_dir, hw);
  if (json_object_size(hw))
    json_object_set_new(st, "hardware", hw);
  else
    json_decref(hw);
  struct utsname u;
  if (uname(&u) == 0) {
    put_text(st, "software", "os", "name", u.sysname, CPNS_CAPDOC_VERSION_MAX);
    put_text(st, "software", "os", "version", u.release, CPNS_CAPDOC_VERSION_MAX);
    put_text(st, "software", "os", "build", u.version, CPNS_CAPDOC_LABEL_MAX);
  }
  return st;
}

/* ---- dynamic: networks, memory, battery ---- */

static bool name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > CPNS_CAPDOC_NAME_MAX) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '.' || *s == '_' || *s == '+' || *s == '-'))
      return false;
  return true;
}

/* What kind of network an interface is: wifi when the kernel has a
 * wireless directory for it, cellular and Bluetooth by the names their
 * drivers use, ethernet by ARPHRD_ETHER, else other. */
static const char *net_type(const char *ifname) {
  char path[256];
  struct stat sb;
  snprintf(path, sizeof path, "%s/%s/wireless", SYS_NET, ifname);
  if (stat(path, &sb) == 0) return "wifi";
  snprintf(path, sizeof path, "%s/%s/phy80211", SYS_NET, ifname);
  if (stat(path, &sb) == 0) return "wifi";
  if (!strncmp(ifname, "wwan", 4) || !strncmp(ifname, "rmnet", 5) || !strncmp(ifname, "ccmni", 5))
    return "cellular";
  if (!strncmp(ifname, "bnep", 4) || !strncmp(ifname, "bt", 2)) return "bluetooth";
  long long type;
  snprintf(path, sizeof path, "%s/%s/type", SYS_NET, ifname);
  if (read_long(path, &type) && type == 1) return "ethernet";
  return "other";
}

static void read_networks(json_t *dyn) {
  struct ifaddrs *ifs;
  if (getifaddrs(&ifs) != 0) return;
  json_t *nets = json_object();
  for (struct ifaddrs *i = ifs; i && nets; i = i->ifa_next) {
    /* Networks in use: up and running, not the loopback. */
    if (!i->ifa_name || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP) ||
        !(i->ifa_flags & IFF_RUNNING) || !name_ok(i->ifa_name))
      continue;
    json_t *net = json_object_get(nets, i->ifa_name);
    if (!net) {
      if (json_object_size(nets) >= CPNS_CAPDOC_NETWORKS_MAX) continue;
      net = json_pack("{s:s, s:[]}", "type", net_type(i->ifa_name), "addrs");
      json_object_set_new(nets, i->ifa_name, net);
    }
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
      continue;
    char text[INET6_ADDRSTRLEN];
    const void *a = i->ifa_addr->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
    json_t *addrs = json_object_get(net, "addrs");
    if (inet_ntop(i->ifa_addr->sa_family, a, text, sizeof text) &&
        json_array_size(addrs) < CPNS_CAPDOC_ADDRS_MAX)
      json_array_append_new(addrs, json_string(text));
  }
  freeifaddrs(ifs);
  if (json_object_size(nets))
    json_object_set_new(dyn, "networks", nets);
  else
    json_decref(nets);
}

static void read_battery_now(const char *dir, json_t *dyn) {
  char bat[4096 + 300], path[4096 + 400], status[64];
  if (!find_battery(dir, bat, sizeof bat)) return;
  long long v;
  snprintf(path, sizeof path, "%s/capacity", bat);
  if (read_long(path, &v) && v >= 0 && v <= 100) put(dyn, "battery", NULL, "level", json_integer(v));
  snprintf(path, sizeof path, "%s/status", bat);
  bool charging = false;
  if (read_line(path, status, sizeof status)) {
    charging = strcmp(status, "Charging") == 0;
    put(dyn, "battery", NULL, "charging", json_boolean(charging));
  }
  snprintf(path, sizeof path, "%s/time_to_empty_now", bat);
  if (!charging && read_long(path, &v) && v > 0 && v <= CPNS_CAPDOC_REMAINING_MAX)
    put(dyn, "battery", NULL, "remaining", json_integer(v));
}

json_t *cpns_hostcaps_read_dynamic(const struct cpns_hostcaps_config *cfg) {
  json_t *dyn = json_object();
  if (!dyn || !cfg->host) return dyn;
  read_networks(dyn);
  long long avail;
  if (meminfo("MemAvailable", &avail))
    put(dyn, "memory", NULL, "available",
        json_integer(avail / CPNS_HOSTCAPS_MEMORY_STEP * CPNS_HOSTCAPS_MEMORY_STEP));
  if (cfg->power_supply_dir && *cfg->power_supply_dir) read_battery_now(cfg->power_supply_dir, dyn);
  return dyn;
}

/* ---- the source ---- */

/* Reads the overrides file when it changed (or always, with force). A file
 * that cannot be read or is no JSON map keeps the last good one out and
 * says so once per change. */
static void load_file(struct cpns_hostcaps *hc, bool force) {
  if (!hc->file[0]) {
    json_decref(hc->overrides);
    hc->overrides = NULL;
    return;
  }
  struct stat sb;
  if (stat(hc->file, &sb) != 0) {
    if (hc->file_seen || force) log_warn(hc->mod, "capabilities file %s: %s", hc->file, strerror(errno));
    hc->file_seen = false;
    json_decref(hc->overrides);
    hc->overrides = NULL;
    return;
  }
  if (!force && hc->file_seen && sb.st_mtim.tv_sec == hc->file_mtime.tv_sec &&
      sb.st_mtim.tv_nsec == hc->file_mtime.tv_nsec && sb.st_size == hc->file_size)
    return;
  hc->file_seen = true;
  hc->file_mtime = sb.st_mtim;
  hc->file_size = sb.st_size;
  json_decref(hc->overrides);
  hc->overrides = NULL;
  if (sb.st_size > CPNS_HOSTCAPS_FILE_MAX) {
    log_err(hc->mod, "capabilities file %s: larger than %d bytes; ignored", hc->file,
            CPNS_HOSTCAPS_FILE_MAX);
    return;
  }
  FILE *f = fopen(hc->file, "r");
  if (!f) {
    log_err(hc->mod, "capabilities file %s: %s", hc->file, strerror(errno));
    return;
  }
  char *buf = malloc(CPNS_HOSTCAPS_FILE_MAX + 1);
  size_t n = buf ? fread(buf, 1, CPNS_HOSTCAPS_FILE_MAX + 1, f) : 0;
  fclose(f);
  json_error_t je;
  json_t *v = buf && n <= CPNS_HOSTCAPS_FILE_MAX ? json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je)
                                                 : NULL;
  free(buf);
  if (!json_is_object(v)) {
    log_err(hc->mod, "capabilities file %s: %s; ignored", hc->file,
            v ? "not a JSON map" : n > CPNS_HOSTCAPS_FILE_MAX ? "too large" : je.text);
    json_decref(v);
    return;
  }
  hc->overrides = v;
  log_info(hc->mod, "capabilities file %s read", hc->file);
}

static void configure(struct cpns_hostcaps *hc, const struct cpns_hostcaps_config *cfg) {
  hc->host = cfg->host;
  snprintf(hc->file, sizeof hc->file, "%s", cfg->file ? cfg->file : "");
  snprintf(hc->power_supply_dir, sizeof hc->power_supply_dir, "%s",
           cfg->power_supply_dir ? cfg->power_supply_dir : "");
  snprintf(hc->device_type, sizeof hc->device_type, "%s", cfg->device_type ? cfg->device_type : "");
}

static struct cpns_hostcaps_config config_of(const struct cpns_hostcaps *hc) {
  return (struct cpns_hostcaps_config){hc->host, hc->file, hc->power_supply_dir, hc->device_type};
}

void cpns_hostcaps_reload(struct cpns_hostcaps *hc, const struct cpns_hostcaps_config *cfg) {
  configure(hc, cfg);
  struct cpns_hostcaps_config c = config_of(hc);
  json_t *st = cpns_hostcaps_read_static(&c);
  if (st) {
    json_decref(hc->static_part);
    hc->static_part = st;
  }
  load_file(hc, true);
}

int cpns_hostcaps_new(const struct cpns_hostcaps_config *cfg, const char *log_mod,
                      struct cpns_hostcaps **out) {
  struct cpns_hostcaps *hc = calloc(1, sizeof *hc);
  if (!hc) return CPNS_ERR_NOMEM;
  hc->mod = log_mod;
  cpns_hostcaps_reload(hc, cfg);
  if (!hc->static_part) {
    cpns_hostcaps_free(hc);
    return CPNS_ERR_NOMEM;
  }
  *out = hc;
  return 0;
}

void cpns_hostcaps_free(struct cpns_hostcaps *hc) {
  if (!hc) return;
  json_decref(hc->static_part);
  json_decref(hc->overrides);
  free(hc);
}

json_t *cpns_hostcaps_document(struct cpns_hostcaps *hc) {
  load_file(hc, false);
  struct cpns_hostcaps_config c = config_of(hc);
  json_t *dyn = cpns_hostcaps_read_dynamic(&c);
  json_t *doc = json_pack("{s:O, s:o}", "static", hc->static_part, "dynamic", dyn ? dyn : json_object());
  if (!doc) return NULL;
  char err[HOSTCAPS_DIAG_MAX];
  if (hc->overrides) {
    json_t *merged = NULL;
    int rc = cpns_capdoc_merge(doc, hc->overrides, &merged, err, sizeof err);
    if (!rc) {
      json_decref(doc);
      return merged;
    }
    CPNS_LOG_RL(CPNS_LOG_ERR, hc->mod, "capabilities file %s left out: %s", hc->file, err);
  }
  /* What the host tells fits the schema by construction; checked anyway,
   * so that a surprise becomes a log line and an empty document, never a
   * document the peers refuse. */
  if (cpns_capdoc_check(doc, err, sizeof err)) {
    CPNS_LOG_RL(CPNS_LOG_ERR, hc->mod, "host capabilities left out: %s", err);
    json_decref(doc);
    doc = json_object();
  }
  return doc;
}
