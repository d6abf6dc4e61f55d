/* SPDX-License-Identifier: MIT */
/* Tree jobs: options, filters and the sync comparison. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "options.h"
#include "reader.h"
#include "tree.h"

static const char *const tree_keys[] = {"mode",      "delete",       "compare",    "dry_run",
                                        "include",   "exclude",      "from",       "to",
                                        "fail_fast", "verify",       "transfers",  "memory_limit",
                                        "bwlimit",   "chunk",        "concurrent", "queue_depth",
                                        "readers",   "content_type", "stream",     "if_not_exists",
                                        NULL};

#define DEFAULT_TRANSFERS 16
#define DEFAULT_MEMORY (256ull << 20)

static void free_list(char **v) {
  for (size_t i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

/* "a\nb" -> {"a", "b", NULL}; empty lines are dropped. */
static sluice_error *split_lines(const char *s, char ***out) {
  *out = NULL;
  if (!s) return NULL;
  size_t n = 1;
  for (const char *p = s; *p; p++) n += *p == '\n';
  char **v = calloc(n + 1, sizeof(*v));
  if (!v) return sluice__error_oom();
  size_t k = 0;
  for (const char *p = s; *p;) {
    size_t len = strcspn(p, "\n");
    if (len && !(v[k++] = strndup(p, len))) {
      free_list(v);
      return sluice__error_oom();
    }
    p += len + (p[len] == '\n');
  }
  *out = v;
  return NULL;
}

static sluice_error *set_size(sluice_options *o, const char *name, uint64_t v) {
  return sluice_options_set_uint(o, name, v);
}

/* Buffers a large object's writer takes, brought down to fit the budget:
 * first the queue, then the parts in flight, down to one each. */
static sluice_error *fit_large(sluice__tree_opts *o, unsigned conc, unsigned depth,
                               const sluice_options *opts) {
  uint64_t per = o->chunk;
  while ((uint64_t)(depth + conc + o->readers) * per > o->memory_limit && (depth > 1 || conc > 1)) {
    if (depth > 1)
      depth--;
    else
      conc--;
  }
  o->large_need = (uint64_t)(depth + conc + o->readers) * per;
  if (o->large_need > o->memory_limit)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "tree: memory_limit=%llu cannot hold one large object: at least "
                         "(2 + readers) x chunk = %llu bytes",
                         (unsigned long long)o->memory_limit, (unsigned long long)o->large_need);
  sluice_error *err = NULL;
  if (!(o->wopts = sluice_options_new())) return sluice__error_oom();
  if (!err) err = set_size(o->wopts, "chunk", o->chunk);
  if (!err) err = set_size(o->wopts, "concurrent", conc);
  if (!err) err = set_size(o->wopts, "queue_depth", depth);
  static const char *const passed[] = {"content_type", "if_not_exists"};
  for (size_t i = 0; !err && i < sizeof passed / sizeof passed[0]; i++) {
    const char *v = sluice_options_get(opts, passed[i]);
    if (v) err = sluice_options_set(o->wopts, passed[i], v);
  }
  return err;
}

sluice_error *sluice__tree_opts_parse(const sluice_options *opts, sluice__tree_opts *o) {
  *o = (sluice__tree_opts){0};
  uint64_t transfers, mem, bw, chunk, conc, depth, readers;
  sluice_error *err = sluice__opt_check_known(opts, "tree", tree_keys, NULL);
  if (!err) err = sluice__opt_bool(opts, "delete", 0, "tree", &o->del);
  if (!err) err = sluice__opt_bool(opts, "dry_run", 0, "tree", &o->dry_run);
  if (!err) err = sluice__opt_bool(opts, "fail_fast", 0, "tree", &o->fail_fast);
  if (!err) err = sluice__opt_bool(opts, "stream", 0, "tree", &o->stream);
  if (!err) err = sluice__reader_verify_option(opts, "tree", &o->verify_required);
  if (!err)
    err = sluice__opt_count(opts, "transfers", DEFAULT_TRANSFERS, 1, 1024, "tree", &transfers);
  if (!err)
    err =
        sluice__opt_size(opts, "memory_limit", DEFAULT_MEMORY, 1u << 20, UINT64_MAX, "tree", &mem);
  if (!err) err = sluice__opt_size(opts, "bwlimit", 0, 0, UINT64_MAX, "tree", &bw);
  if (!err) err = sluice__opt_size(opts, "chunk", 8u << 20, 64u << 10, 5ull << 30, "tree", &chunk);
  if (!err) err = sluice__opt_count(opts, "concurrent", 4, 1, 1024, "tree", &conc);
  if (!err) err = sluice__opt_count(opts, "queue_depth", 4, 1, 1024, "tree", &depth);
  if (!err) err = sluice__opt_count(opts, "readers", 1, 1, 64, "tree", &readers);
  if (err) return err;
  const char *mode = sluice_options_get(opts, "mode");
  if (mode && strcmp(mode, "copy") && strcmp(mode, "sync"))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "tree: option mode='%s' is not copy or sync",
                         mode);
  o->sync = mode && !strcmp(mode, "sync");
  if (o->del && !o->sync)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "tree: option delete needs mode=sync");
  const char *cmp = sluice_options_get(opts, "compare");
  if (!cmp || !strcmp(cmp, "size_mtime"))
    o->compare = SLUICE__CMP_SIZE_MTIME;
  else if (!strcmp(cmp, "size"))
    o->compare = SLUICE__CMP_SIZE;
  else if (!strcmp(cmp, "checksum"))
    o->compare = SLUICE__CMP_CHECKSUM;
  else
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "tree: option compare='%s' is not size_mtime, size or checksum", cmp);
  o->transfers = (unsigned)transfers;
  o->memory_limit = mem;
  o->bwlimit = bw;
  o->chunk = (size_t)chunk;
  o->readers = (unsigned)readers;
  sluice__opt_object_cb(opts, &o->object_cb, &o->object_userdata);
  const char *from = sluice_options_get(opts, "from"), *to = sluice_options_get(opts, "to");
  if ((from && !(o->from = strdup(from))) || (to && !(o->to = strdup(to))))
    err = sluice__error_oom();
  if (!err) err = split_lines(sluice_options_get(opts, "include"), &o->include);
  if (!err) err = split_lines(sluice_options_get(opts, "exclude"), &o->exclude);
  if (!err) err = fit_large(o, (unsigned)conc, (unsigned)depth, opts);
  if (err) sluice__tree_opts_clear(o);
  return err;
}

void sluice__tree_opts_clear(sluice__tree_opts *o) {
  free_list(o->include);
  free_list(o->exclude);
  free(o->from);
  free(o->to);
  sluice_options_free(o->wopts);
  *o = (sluice__tree_opts){0};
}

static int any_match(char *const *globs, const char *rel) {
  for (size_t i = 0; globs && globs[i]; i++)
    if (fnmatch(globs[i], rel, 0) == 0) return 1;
  return 0;
}

int sluice__tree_selected(const sluice__tree_opts *o, const char *rel) {
  if (o->from && strcmp(rel, o->from) < 0) return 0;
  if (o->to && strcmp(rel, o->to) >= 0) return 0;
  if (o->include && o->include[0] && !any_match(o->include, rel)) return 0;
  return !any_match(o->exclude, rel);
}

/* An ETag that is the MD5 of the bytes: 32 hex digits, quoted or not.  A
 * multipart ETag ("...-N") is an MD5 of MD5s and compares with nothing. */
static int md5_of(const char *etag, char out[33]) {
  if (!etag) return 0;
  if (*etag == '"') etag++;
  size_t i = 0;
  for (; i < 32; i++) {
    if (!isxdigit((unsigned char)etag[i])) return 0;
    out[i] = (char)tolower((unsigned char)etag[i]);
  }
  out[32] = '\0';
  return etag[32] == '\0' || (etag[32] == '"' && etag[33] == '\0');
}

int sluice__tree_same(const sluice__tree_opts *o, const sluice_metadata *s,
                      const sluice_metadata *d, char md5[33]) {
  if (s->size != d->size) return SLUICE__TREE_DIFFERENT;
  switch (o->compare) {
  case SLUICE__CMP_SIZE: return SLUICE__TREE_SAME;
  case SLUICE__CMP_CHECKSUM: {
    char other[33];
    int sm = md5_of(s->etag, md5), dm = md5_of(d->etag, other);
    if (sm && dm) return strcmp(md5, other) ? SLUICE__TREE_DIFFERENT : SLUICE__TREE_SAME;
    /* One side lists an MD5 and the other lists nothing at all (a file):
     * that side's bytes decide. */
    if (sm && !d->etag) return SLUICE__TREE_HASH_DST;
    if (dm && !s->etag) {
      memcpy(md5, other, sizeof other);
      return SLUICE__TREE_HASH_SRC;
    }
    /* A multipart ETag is no MD5: the stores' full-object CRCs may decide.
     * No ETag on either side: only file trees list none, and both are
     * read, as rsync -c does. */
    return s->etag || d->etag ? SLUICE__TREE_CRC : SLUICE__TREE_HASH_BOTH;
  }
  case SLUICE__CMP_SIZE_MTIME:
  default:
    return s->mtime < 0 || d->mtime < 0 || d->mtime >= s->mtime ? SLUICE__TREE_SAME
                                                                : SLUICE__TREE_DIFFERENT;
  }
}

int sluice__tree_rel_is_plain(const char *rel) {
  if (!*rel) return 0;
  for (const char *p = rel;;) {
    size_t n = strcspn(p, "/");
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
    if (!p[n]) return 1;
    p += n + 1;
  }
}

char *sluice__tree_prefix(const char *dir) {
  size_t n = strlen(dir);
  char *p = malloc(n + 2);
  if (!p) return NULL;
  memcpy(p, dir, n);
  if (n && dir[n - 1] != '/') p[n++] = '/';
  p[n] = '\0';
  return p;
}
