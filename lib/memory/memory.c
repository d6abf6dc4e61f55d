/* SPDX-License-Identifier: MIT */
/*
 * The "memory" service: a private, thread-safe object store in process
 * memory, for tests, caches and examples.  It has no directories and no
 * configuration; a store lives exactly as long as its operator.
 *
 * Objects are immutable once committed and reference-counted.  The store
 * maps each key to its current version; a source takes a reference under
 * the store lock and drops it when freed, so a reader sees one consistent
 * version even if the key is overwritten or deleted meanwhile, and never
 * holds the lock while copying bytes out.
 *
 * The map is an AVL tree ordered by the keys' bytes (strcmp), so that a
 * listing streams in S3's order without holding anything: each next()
 * looks up, under the read lock, the first key after the last one it gave
 * (O(log n)).  Like an S3 listing, and unlike a snapshot, it sees changes
 * made meanwhile past its position, and tolerates deletes behind it (a
 * recursive delete lists and deletes as it goes).  Any key is stored as
 * given: the memory service maps keys onto nothing else.
 *
 * This service legitimately holds whole objects in memory: that is its
 * storage.  A sink keeps its parts until commit, which assembles them into
 * one buffer and publishes it atomically.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "service.h"

/* "%016" PRIx64 plus the NUL. */
#define MEM_ETAG_LEN 17

/* A path naming a directory: the root or anything ending in '/'. */
static int mem_is_dir_path(const char *path) {
  size_t n = strlen(path);
  return n == 0 || path[n - 1] == '/';
}

/* ------------------------------------------------------------------ */
/* Objects: immutable committed versions                               */
/* ------------------------------------------------------------------ */

typedef struct mem_obj {
  atomic_size_t refs;
  uint64_t size;
  int64_t mtime;           /* set when published */
  char etag[MEM_ETAG_LEN]; /* set when published */
  char *content_type;      /* malloc'd or NULL */
  unsigned char bytes[];
} mem_obj;

/* A new unpublished object of size bytes with one reference. */
static mem_obj *mem_obj_new(uint64_t size) {
  if (size > SIZE_MAX - sizeof(mem_obj) - 1) return NULL;
  /* +1 so an empty object is still a distinct allocation. */
  mem_obj *o = malloc(sizeof(mem_obj) + (size_t)size + 1);
  if (!o) return NULL;
  atomic_init(&o->refs, 1);
  o->size = size;
  o->mtime = -1;
  o->etag[0] = '\0';
  o->content_type = NULL;
  return o;
}

static mem_obj *mem_obj_ref(mem_obj *o) {
  atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
  return o;
}

static void mem_obj_unref(mem_obj *o) {
  if (!o) return;
  /* acq_rel: the last holder must see every other holder's reads done
   * before it frees the bytes. */
  if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1) return;
  free(o->content_type);
  free(o);
}

/* ------------------------------------------------------------------ */
/* The store: key -> current object                                    */
/* ------------------------------------------------------------------ */

typedef struct mem_node {
  struct mem_node *left, *right;
  int height; /* of the subtree rooted here; a leaf is 1 */
  mem_obj *obj;
  char key[];
} mem_node;

typedef struct mem_store {
  pthread_rwlock_t lock;
  mem_node *root;
  uint64_t version; /* last etag issued */
} mem_store;

/* ---- the AVL tree (every function: caller holds the lock) ---- */

static int mem_height(const mem_node *n) { return n ? n->height : 0; }

static void mem_fix_height(mem_node *n) {
  int l = mem_height(n->left), r = mem_height(n->right);
  n->height = (l > r ? l : r) + 1;
}

static mem_node *mem_rotate_right(mem_node *n) {
  mem_node *l = n->left;
  n->left = l->right;
  l->right = n;
  mem_fix_height(n);
  mem_fix_height(l);
  return l;
}

static mem_node *mem_rotate_left(mem_node *n) {
  mem_node *r = n->right;
  n->right = r->left;
  r->left = n;
  mem_fix_height(n);
  mem_fix_height(r);
  return r;
}

/* n with its children's heights differing by at most one again (they
 * differ by at most two after one insert or remove below). */
static mem_node *mem_balance(mem_node *n) {
  mem_fix_height(n);
  int d = mem_height(n->left) - mem_height(n->right);
  if (d > 1) {
    if (mem_height(n->left->left) < mem_height(n->left->right)) n->left = mem_rotate_left(n->left);
    return mem_rotate_right(n);
  }
  if (d < -1) {
    if (mem_height(n->right->right) < mem_height(n->right->left))
      n->right = mem_rotate_right(n->right);
    return mem_rotate_left(n);
  }
  return n;
}

/* Links fresh (whose key is not in the tree) under n; the new subtree root. */
static mem_node *mem_insert(mem_node *n, mem_node *fresh) {
  if (!n) {
    fresh->left = fresh->right = NULL;
    fresh->height = 1;
    return fresh;
  }
  if (strcmp(fresh->key, n->key) < 0)
    n->left = mem_insert(n->left, fresh);
  else
    n->right = mem_insert(n->right, fresh);
  return mem_balance(n);
}

/* Unlinks the smallest node of n's subtree into *min. */
static mem_node *mem_unlink_min(mem_node *n, mem_node **min) {
  if (!n->left) {
    *min = n;
    return n->right;
  }
  n->left = mem_unlink_min(n->left, min);
  return mem_balance(n);
}

/* Unlinks key's node from n's subtree into *out (left alone when absent). */
static mem_node *mem_unlink(mem_node *n, const char *key, mem_node **out) {
  if (!n) return NULL;
  int c = strcmp(key, n->key);
  if (c < 0) {
    n->left = mem_unlink(n->left, key, out);
  } else if (c > 0) {
    n->right = mem_unlink(n->right, key, out);
  } else {
    *out = n;
    if (!n->left || !n->right) return n->left ? n->left : n->right;
    mem_node *m;
    mem_node *rest = mem_unlink_min(n->right, &m);
    m->left = n->left;
    m->right = rest;
    return mem_balance(m);
  }
  return mem_balance(n);
}

/* The first node whose key is after key (strict) or at or after it. */
static mem_node *mem_seek(mem_node *n, const char *key, int strict) {
  mem_node *best = NULL;
  while (n) {
    int c = strcmp(n->key, key);
    if (c > 0 || (c == 0 && !strict)) {
      best = n;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  return best;
}

static void mem_free_tree(mem_node *n) {
  while (n) {
    mem_free_tree(n->left);
    mem_node *right = n->right;
    mem_obj_unref(n->obj);
    free(n);
    n = right;
  }
}

/* The current object at key with a reference taken, or NULL. */
static mem_obj *mem_get(mem_store *st, const char *key) {
  pthread_rwlock_rdlock(&st->lock);
  mem_node *node = mem_seek(st->root, key, 0);
  mem_obj *o = node && !strcmp(node->key, key) ? mem_obj_ref(node->obj) : NULL;
  pthread_rwlock_unlock(&st->lock);
  return o;
}

static int mem_exists(mem_store *st, const char *key) {
  mem_obj *o = mem_get(st, key);
  mem_obj_unref(o);
  return o != NULL;
}

/* Whether any key starts with prefix (a directory exists only through the
 * keys under it): the first key at or after it tells. */
static int mem_has_prefix(mem_store *st, const char *prefix) {
  pthread_rwlock_rdlock(&st->lock);
  mem_node *node = mem_seek(st->root, prefix, 0);
  int found = node && strncmp(node->key, prefix, strlen(prefix)) == 0;
  pthread_rwlock_unlock(&st->lock);
  return found;
}

/* Stamps obj as the store's next version.  Caller holds the write lock, so
 * etags are issued in commit order. */
static void mem_stamp(mem_store *st, mem_obj *obj) {
  obj->mtime = (int64_t)time(NULL);
  snprintf(obj->etag, sizeof obj->etag, "%016" PRIx64, ++st->version);
}

/* Publishes obj at key, replacing any older version; with if_not_exists,
 * fails instead when the key exists (checked under the same lock as the
 * insert, so two racing writers cannot both succeed).  Takes obj. */
static sluice_error *mem_put(mem_store *st, const char *key, mem_obj *obj, int if_not_exists) {
  size_t klen = strlen(key);
  /* Allocate before locking so the write lock is held only briefly. */
  mem_node *fresh = malloc(sizeof *fresh + klen + 1);
  if (!fresh) {
    mem_obj_unref(obj);
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: commit '%s': out of memory", key);
  }
  memcpy(fresh->key, key, klen + 1);

  mem_obj *old = NULL;
  pthread_rwlock_wrlock(&st->lock);
  mem_node *node = mem_seek(st->root, key, 0);
  if (node && strcmp(node->key, key)) node = NULL;
  if (node && if_not_exists) {
    pthread_rwlock_unlock(&st->lock);
    free(fresh);
    mem_obj_unref(obj);
    return sluice__error(SLUICE_ERR_ALREADY_EXISTS, "memory: commit '%s': already exists", key);
  }
  mem_stamp(st, obj);
  if (node) {
    old = node->obj;
    node->obj = obj;
  } else {
    fresh->obj = obj;
    st->root = mem_insert(st->root, fresh);
    fresh = NULL;
  }
  pthread_rwlock_unlock(&st->lock);
  free(fresh);
  /* Outside the lock: freeing a large object must not stall others. */
  mem_obj_unref(old);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* open / close                                                        */
/* ------------------------------------------------------------------ */

static sluice_error *mem_open(const sluice_options *config, void **svc) {
  *svc = NULL;
  mem_store *st = calloc(1, sizeof *st);
  if (!st) return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: open: out of memory");
  if (pthread_rwlock_init(&st->lock, NULL) != 0) {
    free(st);
    return sluice__error(SLUICE_ERR_UNEXPECTED, "memory: open: cannot create a lock");
  }
  *svc = st;
  return NULL;
}

/* Only the store's own references go: sources still reading an object keep
 * it alive through theirs. */
static void mem_close(void *svc) {
  mem_store *st = svc;
  if (!st) return;
  mem_free_tree(st->root);
  pthread_rwlock_destroy(&st->lock);
  free(st);
}

/* ------------------------------------------------------------------ */
/* stat / remove                                                       */
/* ------------------------------------------------------------------ */

static void mem_fill_dir_meta(sluice_metadata *out) {
  out->size = 0;
  out->is_dir = 1;
  out->mtime = -1;
  out->etag = NULL;
  out->content_type = NULL;
}

static sluice_error *mem_fill_obj_meta(const mem_obj *o, const char *path, sluice_metadata *out) {
  out->size = o->size;
  out->is_dir = 0;
  out->mtime = o->mtime;
  out->etag = strdup(o->etag);
  out->content_type = o->content_type ? strdup(o->content_type) : NULL;
  if (!out->etag || (o->content_type && !out->content_type)) {
    free(out->etag);
    free(out->content_type);
    out->etag = out->content_type = NULL;
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: stat '%s': out of memory", path);
  }
  return NULL;
}

static sluice_error *mem_stat(void *svc, const char *path, sluice_metadata *out) {
  mem_store *st = svc;
  memset(out, 0, sizeof *out);
  if (mem_is_dir_path(path)) {
    /* The root always exists; any other directory only through its keys. */
    if (path[0] == '\0' || mem_has_prefix(st, path)) {
      mem_fill_dir_meta(out);
      return NULL;
    }
    return sluice__error(SLUICE_ERR_NOT_FOUND, "memory: stat '%s': not found", path);
  }
  mem_obj *o = mem_get(st, path);
  if (!o) return sluice__error(SLUICE_ERR_NOT_FOUND, "memory: stat '%s': not found", path);
  sluice_error *err = mem_fill_obj_meta(o, path, out);
  mem_obj_unref(o);
  return err;
}

static sluice_error *mem_remove(void *svc, const char *path) {
  mem_store *st = svc;
  /* There are no empty directories to delete, so "dir/" is a no-op. */
  if (mem_is_dir_path(path)) return NULL;
  mem_node *node = NULL;
  pthread_rwlock_wrlock(&st->lock);
  st->root = mem_unlink(st->root, path, &node);
  pthread_rwlock_unlock(&st->lock);
  if (node) {
    mem_obj_unref(node->obj);
    free(node);
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* list: one lookup per entry, in key order                            */
/* ------------------------------------------------------------------ */

typedef struct mem_list {
  sluice__list base;
  mem_store *st; /* kept alive by the lister's operator reference */
  char *prefix;  /* "" or "a/b/" */
  size_t plen;
  char *cursor; /* where the next entry is looked up; NULL: done */
  int strict;   /* the next key is after cursor (1), or at or after it */
  int recursive;
} mem_list;

static void mem_list_free(sluice__list *l) {
  mem_list *ml = (mem_list *)l;
  if (!ml) return;
  free(ml->prefix);
  free(ml->cursor);
  free(ml);
}

static sluice_error *mem_list_next(sluice__list *l, char **path, sluice_metadata *meta) {
  mem_list *ml = (mem_list *)l;
  *path = NULL;
  if (!ml->cursor) return NULL;
  char *p = NULL, *next = NULL, *etag = NULL, *ctype = NULL;
  int oom = 0, dir = 0;
  uint64_t size = 0;
  int64_t mtime = -1;
  pthread_rwlock_rdlock(&ml->st->lock);
  mem_node *n = mem_seek(ml->st->root, ml->cursor, ml->strict);
  if (n && strncmp(n->key, ml->prefix, ml->plen) == 0) {
    const char *slash = ml->recursive ? NULL : strchr(n->key + ml->plen, '/');
    if (slash) {
      /* A one-level listing gives "prefix/sub/" once: every key under it
       * sorts before "prefix/sub0" ('0' follows '/'). */
      dir = 1;
      size_t dlen = (size_t)(slash - n->key) + 1;
      p = strndup(n->key, dlen);
      next = strndup(n->key, dlen);
      if (next) next[dlen - 1] = '/' + 1;
      oom = !p || !next;
    } else {
      const mem_obj *o = n->obj;
      p = strdup(n->key);
      next = strdup(n->key);
      etag = strdup(o->etag);
      ctype = o->content_type ? strdup(o->content_type) : NULL;
      size = o->size;
      mtime = o->mtime;
      oom = !p || !next || !etag || (o->content_type && !ctype);
    }
  }
  pthread_rwlock_unlock(&ml->st->lock);
  if (oom) {
    free(p);
    free(next);
    free(etag);
    free(ctype);
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: list: out of memory");
  }
  free(ml->cursor);
  ml->cursor = next; /* NULL at the end: done */
  ml->strict = !dir;
  if (!p) return NULL;
  *path = p;
  meta->size = size;
  meta->is_dir = dir;
  meta->mtime = mtime;
  meta->etag = etag;
  meta->content_type = ctype;
  return NULL;
}

static const struct sluice__list_vt mem_list_vt = {
    .next = mem_list_next,
    .free = mem_list_free,
};

/* dir is "" or "a/b/"; "a/b" is taken to mean "a/b/".  A prefix nothing is
 * under lists as empty, as on an object store. */
static sluice_error *mem_list_open(void *svc, const char *dir, int recursive, sluice__list **out) {
  *out = NULL;
  size_t dlen = strlen(dir);
  int add_slash = dlen > 0 && dir[dlen - 1] != '/';
  mem_list *ml = calloc(1, sizeof *ml);
  char *prefix = malloc(dlen + 2);
  char *cursor = ml && prefix ? malloc(dlen + 2) : NULL;
  if (!cursor) {
    free(prefix);
    free(ml);
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: list '%s': out of memory", dir);
  }
  memcpy(prefix, dir, dlen);
  if (add_slash) prefix[dlen++] = '/';
  prefix[dlen] = '\0';
  memcpy(cursor, prefix, dlen + 1);
  ml->base.vt = &mem_list_vt;
  ml->st = svc;
  ml->prefix = prefix;
  ml->plen = dlen;
  ml->cursor = cursor; /* the first key at or after the prefix */
  ml->recursive = recursive;
  *out = &ml->base;
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Sources: a range of one immutable version                           */
/* ------------------------------------------------------------------ */

typedef struct mem_source {
  sluice__source base;
  mem_obj *obj;   /* our reference keeps the bytes alive */
  uint64_t start; /* offset of the range in the object */
  uint64_t pos;   /* read() cursor, relative to start */
  char *path;
} mem_source;

/* Copies up to len bytes at off (relative to the range) out of the
 * object; 0 at or past the end. */
static size_t mem_source_copy(const mem_source *ms, void *buf, size_t len, uint64_t off) {
  if (off >= ms->base.size) return 0;
  uint64_t left = ms->base.size - off;
  size_t n = left < len ? (size_t)left : len;
  if (n > 0) memcpy(buf, ms->obj->bytes + ms->start + off, n);
  return n;
}

static sluice_error *mem_source_read(sluice__source *s, void *buf, size_t len, size_t *n) {
  mem_source *ms = (mem_source *)s;
  *n = mem_source_copy(ms, buf, len, ms->pos);
  ms->pos += *n;
  return NULL;
}

/* Thread-safe: the object never changes and nothing here is written. */
static sluice_error *mem_source_pread(sluice__source *s, void *buf, size_t len, uint64_t off,
                                      size_t *n) {
  *n = mem_source_copy((const mem_source *)s, buf, len, off);
  return NULL;
}

static void mem_source_free(sluice__source *s) {
  mem_source *ms = (mem_source *)s;
  if (!ms) return;
  mem_obj_unref(ms->obj);
  free(ms->path);
  free(ms);
}

static const struct sluice__source_vt mem_source_vt = {
    .read = mem_source_read,
    .pread = mem_source_pread,
    .free = mem_source_free,
};

static sluice_error *mem_open_source(void *svc, const char *path, uint64_t offset, uint64_t length,
                                     sluice__source **out) {
  mem_store *st = svc;
  *out = NULL;
  if (mem_is_dir_path(path))
    return sluice__error(SLUICE_ERR_IS_A_DIRECTORY, "memory: open '%s': is a directory", path);
  mem_obj *o = mem_get(st, path);
  if (!o) return sluice__error(SLUICE_ERR_NOT_FOUND, "memory: open '%s': not found", path);
  /* Reading at the very end, or anywhere in an empty object, is an empty
   * range rather than an error. */
  if (offset > o->size && o->size > 0) {
    sluice_error *err =
        sluice__error(SLUICE_ERR_RANGE_NOT_SATISFIABLE,
                      "memory: open '%s': offset %" PRIu64 " is past the end (size %" PRIu64 ")",
                      path, offset, o->size);
    mem_obj_unref(o);
    return err;
  }
  uint64_t start = offset < o->size ? offset : o->size;
  uint64_t left = o->size - start;

  mem_source *ms = calloc(1, sizeof *ms);
  char *p = strdup(path);
  if (!ms || !p) {
    free(ms);
    free(p);
    mem_obj_unref(o);
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: open '%s': out of memory", path);
  }
  ms->base.vt = &mem_source_vt;
  ms->base.size = length < left ? length : left;
  ms->base.path = p;
  ms->path = p;
  ms->obj = o;
  ms->start = start;
  *out = &ms->base;
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Sinks: parts in any order, assembled and published at commit        */
/* ------------------------------------------------------------------ */

typedef struct mem_part {
  uint64_t offset;
  size_t len;
  unsigned char bytes[];
} mem_part;

enum { MEM_SINK_OPEN, MEM_SINK_COMMITTED, MEM_SINK_ABORTED };

typedef struct mem_sink {
  sluice__sink base;
  mem_store *st; /* the operator outlives its writers */
  char *path;
  char *content_type; /* moves to the object at commit */
  int if_not_exists;
  pthread_mutex_t mu; /* guards state and the parts table */
  int state;
  mem_part **parts; /* by chunk index; NULL = not received */
  size_t cap;
} mem_sink;

/* More parts than this is a broken index, not a real object. */
#define MEM_MAX_PARTS ((uint64_t)1 << 32)

static void mem_sink_drop_parts(mem_sink *k) {
  for (size_t i = 0; i < k->cap; i++) free(k->parts[i]);
  free(k->parts);
  k->parts = NULL;
  k->cap = 0;
}

/* Makes slot index exist.  Caller holds k->mu. */
static int mem_sink_reserve(mem_sink *k, size_t index) {
  if (index < k->cap) return 0;
  size_t cap = k->cap ? k->cap * 2 : 16;
  if (cap <= index) cap = index + 1;
  mem_part **parts = realloc(k->parts, cap * sizeof *parts);
  if (!parts) return -1;
  memset(parts + k->cap, 0, (cap - k->cap) * sizeof *parts);
  k->parts = parts;
  k->cap = cap;
  return 0;
}

static const char *mem_sink_state_name(int state) {
  return state == MEM_SINK_COMMITTED ? "committed" : "aborted";
}

static sluice_error *mem_sink_write_part(sluice__sink *s, const sluice__chunk *c) {
  mem_sink *k = (mem_sink *)s;
  if (c->index >= MEM_MAX_PARTS || c->len > SIZE_MAX - sizeof(mem_part))
    return sluice__error(SLUICE_ERR_UNEXPECTED, "memory: write '%s': bad part %" PRIu64, k->path,
                         c->index);
  /* Copy outside the lock so parts from several workers copy in parallel. */
  mem_part *part = malloc(sizeof *part + c->len);
  if (!part)
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: write '%s': out of memory", k->path);
  part->offset = c->offset;
  part->len = c->len;
  if (c->len > 0) memcpy(part->bytes, c->buf, c->len);

  sluice_error *err = NULL;
  pthread_mutex_lock(&k->mu);
  if (k->state != MEM_SINK_OPEN) {
    err = sluice__error(k->state == MEM_SINK_ABORTED ? SLUICE_ERR_CANCELED : SLUICE_ERR_UNEXPECTED,
                        "memory: write '%s': writer already %s", k->path,
                        mem_sink_state_name(k->state));
  } else if (mem_sink_reserve(k, (size_t)c->index) != 0) {
    err = sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: write '%s': out of memory", k->path);
  } else {
    /* A retried part replaces its earlier copy. */
    free(k->parts[c->index]);
    k->parts[c->index] = part;
    part = NULL;
  }
  pthread_mutex_unlock(&k->mu);
  free(part);
  return err;
}

/* Parts 0..nparts-1 are all there, contiguous, adding up to total_size,
 * and nothing lies beyond them.  Caller holds k->mu. */
static sluice_error *mem_sink_check(const mem_sink *k, uint64_t total_size, uint64_t nparts) {
  if (nparts > k->cap)
    return sluice__error(SLUICE_ERR_UNEXPECTED,
                         "memory: commit '%s': part %zu of %" PRIu64 " missing", k->path, k->cap,
                         nparts);
  uint64_t off = 0;
  for (size_t i = 0; i < k->cap; i++) {
    const mem_part *p = k->parts[i];
    if (i >= nparts) {
      if (p)
        return sluice__error(SLUICE_ERR_UNEXPECTED,
                             "memory: commit '%s': part %zu beyond the %" PRIu64 " expected",
                             k->path, i, nparts);
      continue;
    }
    if (!p)
      return sluice__error(SLUICE_ERR_UNEXPECTED, "memory: commit '%s': part %zu missing", k->path,
                           i);
    if (p->offset != off)
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "memory: commit '%s': part %zu at offset %" PRIu64 ", expected %" PRIu64,
                           k->path, i, p->offset, off);
    off += p->len;
  }
  if (off != total_size)
    return sluice__error(SLUICE_ERR_UNEXPECTED,
                         "memory: commit '%s': parts hold %" PRIu64 " bytes, expected %" PRIu64,
                         k->path, off, total_size);
  return NULL;
}

/* One contiguous object from the parts, freeing each part as it is copied
 * so the peak is the object plus one part over the parts alone.  The
 * parts must have passed mem_sink_check().  Caller holds k->mu. */
static mem_obj *mem_sink_assemble(mem_sink *k, uint64_t total_size, uint64_t nparts) {
  mem_obj *o = mem_obj_new(total_size);
  if (!o) return NULL;
  for (size_t i = 0; i < nparts; i++) {
    mem_part *p = k->parts[i];
    if (p->len > 0) memcpy(o->bytes + p->offset, p->bytes, p->len);
    free(p);
    k->parts[i] = NULL;
  }
  mem_sink_drop_parts(k);
  o->content_type = k->content_type;
  k->content_type = NULL;
  return o;
}

static sluice_error *mem_sink_commit(sluice__sink *s, uint64_t total_size, uint64_t nparts) {
  mem_sink *k = (mem_sink *)s;
  sluice_error *err = NULL;
  /* Lock order is always sink, then store. */
  pthread_mutex_lock(&k->mu);
  if (k->state != MEM_SINK_OPEN) {
    err = sluice__error(SLUICE_ERR_UNEXPECTED, "memory: commit '%s': writer already %s", k->path,
                        mem_sink_state_name(k->state));
  } else if (!(err = mem_sink_check(k, total_size, nparts))) {
    mem_obj *o = mem_sink_assemble(k, total_size, nparts);
    if (!o)
      err = sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: commit '%s': out of memory", k->path);
    else
      err = mem_put(k->st, k->path, o, k->if_not_exists);
    /* Once the parts are consumed the sink is finished either way; a
     * failed publish leaves nothing visible, like an abort. */
    if (o) k->state = err ? MEM_SINK_ABORTED : MEM_SINK_COMMITTED;
  }
  pthread_mutex_unlock(&k->mu);
  return err;
}

/* Idempotent; after a commit the object stays. */
static void mem_sink_abort(sluice__sink *s) {
  mem_sink *k = (mem_sink *)s;
  pthread_mutex_lock(&k->mu);
  if (k->state == MEM_SINK_OPEN) {
    mem_sink_drop_parts(k);
    k->state = MEM_SINK_ABORTED;
  }
  pthread_mutex_unlock(&k->mu);
}

static void mem_sink_free(sluice__sink *s) {
  mem_sink *k = (mem_sink *)s;
  if (!k) return;
  mem_sink_abort(s);
  pthread_mutex_destroy(&k->mu);
  free(k->content_type);
  free(k->path);
  free(k);
}

static const struct sluice__sink_vt mem_sink_vt = {
    .write_part = mem_sink_write_part,
    .commit = mem_sink_commit,
    .abort = mem_sink_abort,
    .free = mem_sink_free,
};

static sluice_error *mem_open_sink(void *svc, const char *path, const sluice__write_params *p,
                                   sluice__sink **out) {
  mem_store *st = svc;
  *out = NULL;
  if (mem_is_dir_path(path))
    return sluice__error(SLUICE_ERR_IS_A_DIRECTORY, "memory: write '%s': is a directory", path);
  /* Fail early when we can; commit checks again under the lock. */
  if (p->if_not_exists && mem_exists(st, path))
    return sluice__error(SLUICE_ERR_ALREADY_EXISTS, "memory: write '%s': already exists", path);

  mem_sink *k = calloc(1, sizeof *k);
  if (!k) return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: write '%s': out of memory", path);
  k->path = strdup(path);
  k->content_type = p->content_type ? strdup(p->content_type) : NULL;
  if (!k->path || (p->content_type && !k->content_type)) {
    free(k->path);
    free(k->content_type);
    free(k);
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "memory: write '%s': out of memory", path);
  }
  if (pthread_mutex_init(&k->mu, NULL) != 0) {
    free(k->path);
    free(k->content_type);
    free(k);
    return sluice__error(SLUICE_ERR_UNEXPECTED, "memory: write '%s': cannot create a lock", path);
  }
  k->st = st;
  k->if_not_exists = p->if_not_exists;
  k->state = MEM_SINK_OPEN;
  k->base.vt = &mem_sink_vt;
  k->base.chunk = p->chunk;
  k->base.per_worker = 1;
  k->base.ordered = 0;
  k->base.path = k->path;
  *out = &k->base;
  return NULL;
}

/* ------------------------------------------------------------------ */

static const char *const mem_config_keys[] = {NULL};

const sluice__service_vt sluice__memory_service = {
    .scheme = "memory",
    .writer_keys = NULL,
    .config_keys = mem_config_keys,
    .open = mem_open,
    .close = mem_close,
    .stat = mem_stat,
    .remove = mem_remove,
    .create_dir = NULL,
    .list = mem_list_open,
    .open_source = mem_open_source,
    .open_sink = mem_open_sink,
};
