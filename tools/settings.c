/* SPDX-License-Identifier: MIT */
/* Settings of the sluice command, from its options and its config file.
 * Both use the same names (the long options without "--"), so a line in
 * the file means exactly what the option means on the command line. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

void cli_settings_init(struct cli_settings *s) {
  memset(s, 0, sizeof *s);
  s->no_sign_request = -1;
  s->retries = -1;
  s->progress = PROGRESS_AUTO;
  s->progress_interval = 5.0;
  s->expires = 3600;
  s->older_than = -1;
}

void cli_settings_free(struct cli_settings *s) {
  char **strs[] = {&s->chunk,     &s->concurrent,   &s->queue_depth,  &s->readers, &s->endpoint,
                   &s->region,    &s->profile,      &s->content_type, &s->ca_file, &s->method,
                   &s->transfers, &s->memory_limit, &s->bwlimit,      &s->include, &s->exclude,
                   &s->checksum,  &s->verify};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
    free(*strs[i]);
    *strs[i] = NULL;
  }
}

int cli_parse_duration(const char *text, uint64_t *out) {
  if (!text || !isdigit((unsigned char)*text)) return -1;
  errno = 0;
  char *end;
  unsigned long long n = strtoull(text, &end, 10);
  if (errno) return -1;
  static const struct {
    const char *suffix;
    uint64_t seconds;
  } units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].suffix) != 0) continue;
    if (n > UINT64_MAX / units[i].seconds) return -1;
    *out = n * units[i].seconds;
    return 0;
  }
  return -1;
}

static int bad(const char *where, const char *name, const char *value, const char *why) {
  fprintf(stderr, "sluice: %s: bad value '%s' for %s: %s\n", where, value ? value : "", name, why);
  return -1;
}

/* Reads value as a whole number in [lo, hi] into *out. */
static int get_count(const char *where, const char *name, const char *value, uint64_t lo,
                     uint64_t hi, uint64_t *out) {
  char *end;
  errno = 0;
  size_t digits = value ? strspn(value, "0123456789") : 0;
  if (!digits || value[digits])
    return bad(where, name, value, "not a count (a whole number, without a unit)");
  *out = strtoull(value, &end, 10);
  if (errno || *out < lo || *out > hi) {
    char why[64];
    snprintf(why, sizeof why, "must be %llu..%llu", (unsigned long long)lo, (unsigned long long)hi);
    return bad(where, name, value, why);
  }
  return 0;
}

/* Copies value into *slot after checking it is a count in [lo, hi]. */
static int set_count(char **slot, const char *where, const char *name, const char *value,
                     uint64_t lo, uint64_t hi) {
  uint64_t n;
  if (get_count(where, name, value, lo, hi, &n)) return -1;
  free(*slot);
  *slot = strdup(value);
  return *slot ? 0 : -1;
}

/* Repeatable: each value becomes one more line of *slot. */
static int add_line(char **slot, const char *where, const char *name, const char *value) {
  if (!value || !*value || strchr(value, '\n'))
    return bad(where, name, value, "empty or multi-line");
  size_t old = *slot ? strlen(*slot) : 0, n = strlen(value);
  char *p = realloc(*slot, old + n + 2);
  if (!p) return -1;
  if (old) p[old++] = '\n';
  memcpy(p + old, value, n + 1);
  *slot = p;
  return 0;
}

static int set_size_text(char **slot, const char *where, const char *name, const char *value,
                         uint64_t lo, const char *why) {
  uint64_t n;
  if (sluice__parse_size(value, &n) || n < lo) return bad(where, name, value, why);
  free(*slot);
  *slot = strdup(value);
  return *slot ? 0 : -1;
}

static int set_str(char **slot, const char *where, const char *name, const char *value) {
  if (!value || !*value) return bad(where, name, value, "empty");
  free(*slot);
  *slot = strdup(value);
  return *slot ? 0 : -1;
}

/* A flag's value: absent (command line) means true; the config file may
 * say true/false/yes/no/1/0. */
static int set_flag(int *slot, const char *where, const char *name, const char *value) {
  if (!value || !strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1")) {
    *slot = 1;
    return 0;
  }
  if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0")) {
    *slot = 0;
    return 0;
  }
  return bad(where, name, value, "expected true or false");
}

int cli_setting_apply(struct cli_settings *s, const char *name, const char *value,
                      const char *where) {
  uint64_t n;
  if (!strcmp(name, "chunk")) {
    /* The library takes the size as text too; checking here turns a typo
     * into a usage error before anything is opened. */
    if (sluice__parse_size(value, &n) || n < (64u << 10) || n > (5ull << 30))
      return bad(where, name, value, "a size from 64KiB to 5GiB, such as 8MiB");
    return set_str(&s->chunk, where, name, value);
  }
  if (!strcmp(name, "concurrent")) return set_count(&s->concurrent, where, name, value, 1, 1024);
  if (!strcmp(name, "queue-depth")) return set_count(&s->queue_depth, where, name, value, 1, 1024);
  if (!strcmp(name, "readers")) return set_count(&s->readers, where, name, value, 1, 64);
  if (!strcmp(name, "transfers")) return set_count(&s->transfers, where, name, value, 1, 1024);
  if (!strcmp(name, "memory-limit"))
    return set_size_text(&s->memory_limit, where, name, value, 1u << 20, "a size of at least 1MiB");
  if (!strcmp(name, "bwlimit"))
    return set_size_text(&s->bwlimit, where, name, value, 1, "bytes per second, such as 10M");
  if (!strcmp(name, "include")) return add_line(&s->include, where, name, value);
  if (!strcmp(name, "exclude")) return add_line(&s->exclude, where, name, value);
  if (!strcmp(name, "delete")) return set_flag(&s->delete_extra, where, name, value);
  if (!strcmp(name, "dry-run")) return set_flag(&s->dry_run, where, name, value);
  if (!strcmp(name, "size-only") || !strcmp(name, "checksum")) {
    int on = 0;
    if (set_flag(&on, where, name, value)) return -1;
    if (on)
      s->compare = !strcmp(name, "size-only") ? "size" : "checksum";
    else if (s->compare && !strcmp(s->compare, !strcmp(name, "size-only") ? "size" : "checksum"))
      s->compare = NULL;
    return 0;
  }
  if (!strcmp(name, "endpoint")) return set_str(&s->endpoint, where, name, value);
  if (!strcmp(name, "region")) return set_str(&s->region, where, name, value);
  if (!strcmp(name, "profile")) return set_str(&s->profile, where, name, value);
  if (!strcmp(name, "content-type")) return set_str(&s->content_type, where, name, value);
  if (!strcmp(name, "ca-file")) return set_str(&s->ca_file, where, name, value);
  if (!strcmp(name, "checksum-algorithm")) {
    static const char *const algs[] = {"auto", "crc64nvme", "crc32c", "crc32",
                                       "md5",  "sha256",    "none"};
    for (size_t i = 0; value && i < sizeof algs / sizeof algs[0]; i++)
      if (!strcmp(value, algs[i])) return set_str(&s->checksum, where, name, value);
    return bad(where, name, value, "one of auto, crc64nvme, crc32c, crc32, md5, sha256, none");
  }
  if (!strcmp(name, "verify")) {
    if (!value || (strcmp(value, "auto") && strcmp(value, "required")))
      return bad(where, name, value, "auto or required");
    return set_str(&s->verify, where, name, value);
  }
  if (!strcmp(name, "method")) {
    if (!value || (strcasecmp(value, "GET") && strcasecmp(value, "PUT") &&
                   strcasecmp(value, "HEAD") && strcasecmp(value, "DELETE")))
      return bad(where, name, value, "one of GET, PUT, HEAD, DELETE");
    return set_str(&s->method, where, name, value);
  }
  if (!strcmp(name, "no-sign-request")) return set_flag(&s->no_sign_request, where, name, value);
  if (!strcmp(name, "if-not-exists")) return set_flag(&s->if_not_exists, where, name, value);
  if (!strcmp(name, "recursive")) return set_flag(&s->recursive, where, name, value);
  if (!strcmp(name, "json")) return set_flag(&s->json, where, name, value);
  if (!strcmp(name, "stream")) return set_flag(&s->stream, where, name, value);
  if (!strcmp(name, "retries")) {
    if (get_count(where, name, value, 0, 19, &n)) return -1;
    s->retries = (int)n;
    return 0;
  }
  if (!strcmp(name, "expires")) return get_count(where, name, value, 1, 604800, &s->expires);
  if (!strcmp(name, "progress")) {
    static const char *const modes[] = {"auto", "bar", "plain", "none"};
    for (int i = 0; i < 4; i++)
      if (value && !strcmp(value, modes[i])) {
        s->progress = (enum progress_mode)i;
        return 0;
      }
    return bad(where, name, value, "one of auto, bar, plain, none");
  }
  if (!strcmp(name, "older-than")) {
    if (cli_parse_duration(value, &n) || n > INT64_MAX)
      return bad(where, name, value, "a duration such as 0s, 90m, 12h, 7d or 2w");
    s->older_than = (int64_t)n;
    return 0;
  }
  if (!strcmp(name, "progress-interval")) {
    char *end;
    double d = value ? strtod(value, &end) : 0;
    if (!value || *end || !(d >= 0.1 && d <= 3600)) return bad(where, name, value, "0.1..3600 s");
    s->progress_interval = d;
    return 0;
  }
  fprintf(stderr, "sluice: %s: unknown setting '%s'\n", where, name);
  return -1;
}

static char *trim(char *p) {
  while (isspace((unsigned char)*p)) p++;
  char *e = p + strlen(p);
  while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
  return p;
}

int cli_config_load(struct cli_settings *s, const char *path) {
  char buf[4096];
  int named = path != NULL;
  if (!path) path = getenv("SLUICE_CONFIG"), named = path != NULL;
  if (!path) {
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
      snprintf(buf, sizeof buf, "%s/sluice/config", xdg);
    else if (home && *home)
      snprintf(buf, sizeof buf, "%s/.config/sluice/config", home);
    else
      return 0;
    path = buf;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    if (!named && errno == ENOENT) return 0;
    fprintf(stderr, "sluice: config %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[1024], where[4200];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char *p = trim(line);
    if (!*p || *p == '#') continue;
    snprintf(where, sizeof where, "config %s:%d", path, lineno);
    char *eq = strchr(p, '=');
    if (!eq) {
      fprintf(stderr, "sluice: %s: expected 'name = value'\n", where);
      rc = -1;
      break;
    }
    *eq = '\0';
    rc = cli_setting_apply(s, trim(p), trim(eq + 1), where);
  }
  fclose(f);
  return rc;
}
