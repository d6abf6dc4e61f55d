/* SPDX-License-Identifier: MIT */
/* Name/value options with typed parsing and a check for unknown names. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "options.h"
#include "size.h"

struct opt {
  char *name;
  char *value;
};

struct sluice_options {
  struct opt *items;
  size_t n, cap;
  sluice_progress_cb progress_cb;
  void *progress_userdata;
  sluice_object_cb object_cb;
  void *object_userdata;
};

sluice_options *sluice_options_new(void) { return calloc(1, sizeof(sluice_options)); }

void sluice_options_free(sluice_options *o) {
  if (!o) return;
  for (size_t i = 0; i < o->n; i++) {
    free(o->items[i].name);
    free(o->items[i].value);
  }
  free(o->items);
  free(o);
}

static struct opt *find(const sluice_options *o, const char *name) {
  for (size_t i = 0; i < o->n; i++)
    if (strcmp(o->items[i].name, name) == 0) return &o->items[i];
  return NULL;
}

sluice_error *sluice_options_set(sluice_options *o, const char *name, const char *value) {
  if (!o || !name || !*name || !value)
    return sluice__error(
        SLUICE_ERR_INVALID_ARGUMENT,
        "options_set: options, name and value must be non-NULL and name non-empty");
  char *v = strdup(value);
  if (!v) return sluice__error_oom();
  struct opt *it = find(o, name);
  if (it) {
    free(it->value);
    it->value = v;
    return NULL;
  }
  if (o->n == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 8;
    struct opt *items = realloc(o->items, cap * sizeof(*items));
    if (!items) {
      free(v);
      return sluice__error_oom();
    }
    o->items = items;
    o->cap = cap;
  }
  char *n = strdup(name);
  if (!n) {
    free(v);
    return sluice__error_oom();
  }
  o->items[o->n++] = (struct opt){n, v};
  return NULL;
}

sluice_error *sluice_options_set_uint(sluice_options *o, const char *name, uint64_t value) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRIu64, value);
  return sluice_options_set(o, name, buf);
}

sluice_options *sluice__options_dup(const sluice_options *o) {
  sluice_options *d = sluice_options_new();
  if (!d || !o) return d;
  for (size_t i = 0; i < o->n; i++) {
    sluice_error *err = sluice_options_set(d, o->items[i].name, o->items[i].value);
    if (err) {
      sluice_error_free(err);
      sluice_options_free(d);
      return NULL;
    }
  }
  d->progress_cb = o->progress_cb;
  d->progress_userdata = o->progress_userdata;
  d->object_cb = o->object_cb;
  d->object_userdata = o->object_userdata;
  return d;
}

void sluice__options_unset(sluice_options *o, const char *name) {
  struct opt *it = o ? find(o, name) : NULL;
  if (!it) return;
  free(it->name);
  free(it->value);
  *it = o->items[--o->n];
}

const char *sluice_options_get(const sluice_options *o, const char *name) {
  if (!o || !name) return NULL;
  struct opt *it = find(o, name);
  return it ? it->value : NULL;
}

sluice_error *sluice_options_set_progress(sluice_options *o, sluice_progress_cb cb, void *ud) {
  if (!o)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "options_set_progress: options is NULL");
  o->progress_cb = cb;
  o->progress_userdata = ud;
  return NULL;
}

void sluice__opt_progress(const sluice_options *o, sluice_progress_cb *cb, void **ud) {
  *cb = o ? o->progress_cb : NULL;
  *ud = o ? o->progress_userdata : NULL;
}

sluice_error *sluice_options_set_object_cb(sluice_options *o, sluice_object_cb cb, void *ud) {
  if (!o)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "options_set_object_cb: options is NULL");
  o->object_cb = cb;
  o->object_userdata = ud;
  return NULL;
}

void sluice__opt_object_cb(const sluice_options *o, sluice_object_cb *cb, void **ud) {
  *cb = o ? o->object_cb : NULL;
  *ud = o ? o->object_userdata : NULL;
}

sluice_error *sluice__opt_size(const sluice_options *o, const char *name, uint64_t dflt,
                               uint64_t min, uint64_t max, const char *what, uint64_t *out) {
  const char *s = sluice_options_get(o, name);
  *out = dflt;
  if (!s) return NULL;
  uint64_t v;
  if (sluice__parse_size(s, &v) != 0)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option %s='%s' is not a size (bytes, or with a unit: 512K, 8MiB, "
                         "1G; KB, MB, GB are powers of 1000)",
                         what, name, s);
  if (v < min || v > max)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option %s=%s is out of range [%" PRIu64 ", %" PRIu64 "]", what, name,
                         s, min, max);
  *out = v;
  return NULL;
}

sluice_error *sluice__opt_count(const sluice_options *o, const char *name, uint64_t dflt,
                                uint64_t min, uint64_t max, const char *what, uint64_t *out) {
  const char *s = sluice_options_get(o, name);
  *out = dflt;
  if (!s) return NULL;
  const char *p = s;
  while (isdigit((unsigned char)*p)) p++;
  if (p == s || *p)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option %s='%s' is not a count (a whole number, without a unit)", what,
                         name, s);
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno || v < min || v > max)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option %s=%s is out of range [%" PRIu64 ", %" PRIu64 "]", what, name,
                         s, min, max);
  *out = v;
  return NULL;
}

sluice_error *sluice__opt_bool(const sluice_options *o, const char *name, int dflt,
                               const char *what, int *out) {
  const char *s = sluice_options_get(o, name);
  *out = dflt;
  if (!s) return NULL;
  if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
    *out = 1;
  else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no") ||
           !strcasecmp(s, "off"))
    *out = 0;
  else
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option %s='%s' is not a boolean (true/false)", what, name, s);
  return NULL;
}

static int listed(const char *const *list, const char *name) {
  for (; list && *list; list++)
    if (strcmp(*list, name) == 0) return 1;
  return 0;
}

sluice_error *sluice__opt_check_known(const sluice_options *o, const char *what,
                                      const char *const *known1, const char *const *known2) {
  if (!o) return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (!listed(known1, o->items[i].name) && !listed(known2, o->items[i].name))
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: unknown option '%s'", what,
                           o->items[i].name);
  return NULL;
}

sluice_error *sluice__opt_long(const sluice_options *o, const char *name, long dflt, long min,
                               long max, const char *unit, const char *what, long *out) {
  const char *s = sluice_options_get(o, name);
  *out = dflt;
  if (!s) return NULL;
  long v = 0;
  const char *p = s;
  for (; *p && isdigit((unsigned char)*p); p++) {
    int d = *p - '0';
    if (v > (LONG_MAX - d) / 10) break; /* too big: reported as out of range */
    v = v * 10 + d;
  }
  if (p == s || (*p && !isdigit((unsigned char)*p)))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option %s='%s' is not a whole number of %s", what, name, s, unit);
  if (*p || v < min || v > max)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option %s=%s is out of range [%ld, %ld] (%s)", what, name, s, min,
                         max, unit);
  *out = v;
  return NULL;
}

sluice_error *sluice__opt_as_config(sluice_error *err) {
  if (!err || sluice_error_kind(err) != SLUICE_ERR_INVALID_ARGUMENT) return err;
  sluice_error *c = sluice__error(SLUICE_ERR_CONFIG_INVALID, "%s", sluice_error_message(err));
  sluice_error_free(err);
  return c;
}
