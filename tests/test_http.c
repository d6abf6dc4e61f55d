/* SPDX-License-Identifier: MIT */
/*
 * The http service against a real server: nginx on loopback serving a
 * directory (tests/servers/nginx-http.sh).  tests/check-servers.sh starts
 * it and exports SLUICE_HTTP_ENDPOINT and SLUICE_HTTP_ROOT (the directory
 * nginx serves); without SLUICE_HTTP_ENDPOINT every test is skipped.
 *
 * Every test creates its files in a directory of its own under the docroot
 * ("t-<pid>-<n>/") and reads them through an operator whose endpoint has
 * that directory as its base path, so tests that run at the same time never
 * see each other's files.
 *
 * The tls_* tests need a second nginx serving over HTTPS with a CA made
 * for the run (SLUICE_HTTPS_ENDPOINT, SLUICE_HTTPS_CA, SLUICE_HTTPS_ROOT;
 * nginx-http.sh start --tls) and are skipped without it.
 *
 * What nginx sends for a static file (checked by these tests): a strong
 * ETag "<mtime hex>-<size hex>", Last-Modified, Content-Length,
 * Accept-Ranges; 206 for a range, 412 when If-Match does not match, 416
 * past the end, 301 for a directory named without its '/'.  So a file
 * replaced under a reader is detected when its mtime (in seconds) or its
 * size changed.
 *
 * Behaviour nginx cannot show (a server that ignores Range, a weak ETag, a
 * HEAD without Content-Length) is checked against a small HTTP server run
 * by the test itself on a loopback port (struct mini).
 *
 * Large sizes shrink with SLUICE_TEST_BIG (th_big_size), as in the
 * sanitizer runs.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define MiB (1ull << 20)

/* Suite-wide timeout: a per-test .timeout makes Criterion leak under ASan. */
TestSuite(http, .timeout = 60);

/* ------------------------------------------------------------------ */
/* The server, the test's directory and operators                      */
/* ------------------------------------------------------------------ */

static const char *EP;   /* http://127.0.0.1:PORT */
static const char *ROOT; /* the directory nginx serves */

/* Skips the test unless tests/check-servers.sh started nginx. */
static void need_server(void) {
  EP = getenv("SLUICE_HTTP_ENDPOINT");
  if (!EP || !*EP) cr_skip_test("no HTTP server: run through tests/check-servers.sh");
  ROOT = getenv("SLUICE_HTTP_ROOT");
  cr_assert(ROOT && *ROOT, "SLUICE_HTTP_ENDPOINT is set but SLUICE_HTTP_ROOT is not");
}

static sluice_operator *http_op(sluice_options *o) {
  sluice_operator *op;
  TH_OK(sluice_operator_new("http", o, &op));
  sluice_options_free(o);
  cr_assert_str_eq(sluice_operator_scheme(op), "http");
  return op;
}

/* A test's world: dir = ROOT/t-<pid>-<n> (local path, created), name its
 * name under the docroot, op an operator whose endpoint is EP/<name>/. */
struct ctx {
  char *name;
  char *dir;
  sluice_operator *op;
};

static unsigned dir_counter;

static void ctx_open(struct ctx *c) {
  need_server();
  cr_assert(asprintf(&c->name, "t-%ld-%u", (long)getpid(), ++dir_counter) > 0);
  c->dir = th_join(ROOT, c->name);
  cr_assert(mkdir(c->dir, 0755) == 0, "mkdir %s: %s", c->dir, strerror(errno));
  char *ep;
  /* The trailing '/' is dropped from the base path. */
  cr_assert(asprintf(&ep, "%s/%s/", EP, c->name) > 0);
  c->op = http_op(th_opts("endpoint", ep, NULL));
  free(ep);
}

static void ctx_close(struct ctx *c) {
  sluice_operator_free(c->op);
  th_rmrf(c->dir);
  free(c->dir);
  free(c->name);
  memset(c, 0, sizeof *c);
}

/* c->dir/rel, generated; free() the result. */
static char *make(struct ctx *c, const char *rel, uint64_t size, uint64_t seed) {
  char *p = th_join(c->dir, rel);
  th_make_file(p, size, seed);
  return p;
}

static void mkdir_in(struct ctx *c, const char *rel) {
  char *p = th_join(c->dir, rel);
  cr_assert(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
  free(p);
}

static void set_mtime(const char *path, time_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  cr_assert(utimensat(AT_FDCWD, path, ts, 0) == 0, "utimensat %s: %s", path, strerror(errno));
}

/* Asserts buf[0..len) is generated data (seed) starting at offset off. */
static void check_bytes(const void *buf, size_t len, uint64_t seed, uint64_t off) {
  unsigned char *want = malloc(len ? len : 1);
  cr_assert(want);
  th_fill(want, len, seed, off);
  cr_assert(memcmp(buf, want, len) == 0, "%zu bytes at %llu differ from the file", len,
            (unsigned long long)off);
  free(want);
}

/* Asserts expr fails with kind and a message containing each of the
 * NULL-terminated strings. */
static void expect_err(sluice_error *err, sluice_errkind kind, const char *what, ...) {
  cr_assert(err != NULL, "%s succeeded, expected %s", what, sluice_strerror(kind));
  const char *msg = sluice_error_message(err);
  cr_assert_eq(sluice_error_kind(err), kind, "%s: expected %s, got [%s] %s", what,
               sluice_strerror(kind), sluice_strerror(sluice_error_kind(err)), msg);
  va_list ap;
  va_start(ap, what);
  for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
    cr_assert(strstr(msg, s), "%s: message lacks '%s': %s", what, s, msg);
  va_end(ap);
  sluice_error_free(err);
}

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  socklen_t alen = sizeof a;
  cr_assert(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* Lines of nginx's access log that contain every one of the strings. */
static int access_log_count(const char *s1, const char *s2) {
  const char *state = getenv("SLUICE_HTTP_STATE");
  if (!state || !*state) return -1;
  char *p = th_join(state, "log/access.log");
  FILE *f = fopen(p, "r");
  free(p);
  if (!f) return -1;
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, s1) && strstr(line, s2)) n++;
  fclose(f);
  return n;
}

/* ------------------------------------------------------------------ */
/* A tiny HTTP server for what nginx will not do                       */
/* ------------------------------------------------------------------ */

/* One request per connection (Connection: close), one at a time.  Serves
 * generated bytes (seed) of `size` at any path. */
struct mini {
  int lfd;
  int port;
  pthread_t thread;
  atomic_int stop;
  uint64_t size, seed;
  int ignore_range;          /* answer every GET with 200 and the whole body */
  int no_length;             /* HEAD without Content-Length */
  const char *etag;          /* ETag header value, or NULL */
  const char *last_modified; /* Last-Modified header value, or NULL */
  atomic_int changed;        /* conditional GETs get 412 */
  pthread_mutex_t mu;        /* guards what follows */
  int gets;
  char if_match[256]; /* of the last GET, "" when absent */
  char if_unmodified_since[256];
};

static void header_value(const char *req, const char *name, char *out, size_t cap) {
  out[0] = '\0';
  size_t n = strlen(name);
  for (const char *l = strstr(req, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
    const char *h = l + 2;
    if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
      h += n + 1;
      while (*h == ' ') h++;
      size_t vlen = strcspn(h, "\r\n");
      if (vlen >= cap) vlen = cap - 1;
      memcpy(out, h, vlen);
      out[vlen] = '\0';
      return;
    }
  }
}

static int send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

static void mini_serve(struct mini *m, int fd) {
  char req[16384];
  size_t len = 0;
  while (len < sizeof req - 1) {
    ssize_t k = recv(fd, req + len, sizeof req - 1 - len, 0);
    if (k <= 0) return;
    len += (size_t)k;
    req[len] = '\0';
    if (strstr(req, "\r\n\r\n")) break;
  }
  int head = strncmp(req, "HEAD ", 5) == 0;
  char range[256], im[256], ius[256], hdr[1024];
  header_value(req, "Range", range, sizeof range);
  header_value(req, "If-Match", im, sizeof im);
  header_value(req, "If-Unmodified-Since", ius, sizeof ius);
  if (!head) {
    pthread_mutex_lock(&m->mu);
    m->gets++;
    snprintf(m->if_match, sizeof m->if_match, "%s", im);
    snprintf(m->if_unmodified_since, sizeof m->if_unmodified_since, "%s", ius);
    pthread_mutex_unlock(&m->mu);
  }
  char validators[600] = "";
  if (m->etag) snprintf(validators, sizeof validators, "ETag: %s\r\n", m->etag);
  if (m->last_modified)
    snprintf(validators + strlen(validators), sizeof validators - strlen(validators),
             "Last-Modified: %s\r\n", m->last_modified);
  if (head) {
    char length[64] = "";
    if (!m->no_length)
      snprintf(length, sizeof length, "Content-Length: %llu\r\n", (unsigned long long)m->size);
    snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\n%s%sConnection: close\r\n\r\n", length,
             validators);
    send_all(fd, hdr, strlen(hdr));
    return;
  }
  if (atomic_load(&m->changed) && (im[0] || ius[0])) {
    snprintf(hdr, sizeof hdr,
             "HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    send_all(fd, hdr, strlen(hdr));
    return;
  }
  unsigned long long a = 0, b = m->size ? m->size - 1 : 0;
  int partial = 0;
  if (range[0] && !m->ignore_range && sscanf(range, "bytes=%llu-%llu", &a, &b) == 2) {
    if (b >= m->size) b = m->size - 1;
    partial = 1;
  } else {
    a = 0;
  }
  uint64_t n = m->size ? b - a + 1 : 0;
  if (partial)
    snprintf(hdr, sizeof hdr,
             "HTTP/1.1 206 Partial Content\r\nContent-Length: %llu\r\nContent-Range: bytes "
             "%llu-%llu/%llu\r\n%sConnection: close\r\n\r\n",
             (unsigned long long)n, a, b, (unsigned long long)m->size, validators);
  else
    snprintf(hdr, sizeof hdr,
             "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n%sConnection: close\r\n\r\n",
             (unsigned long long)n, validators);
  if (send_all(fd, hdr, strlen(hdr))) return;
  unsigned char *buf = malloc(65536);
  for (uint64_t off = 0; off < n;) {
    size_t k = n - off < 65536 ? (size_t)(n - off) : 65536;
    th_fill(buf, k, m->seed, a + off);
    if (send_all(fd, buf, k)) break; /* the client gave up (range ignored) */
    off += k;
  }
  free(buf);
}

static void *mini_main(void *u) {
  struct mini *m = u;
  while (!atomic_load(&m->stop)) {
    int fd = accept(m->lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break; /* shut down */
    }
    mini_serve(m, fd);
    close(fd);
  }
  return NULL;
}

static void mini_start(struct mini *m) {
  m->lfd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(m->lfd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert(bind(m->lfd, (struct sockaddr *)&a, sizeof a) == 0);
  cr_assert(listen(m->lfd, 16) == 0);
  socklen_t alen = sizeof a;
  cr_assert(getsockname(m->lfd, (struct sockaddr *)&a, &alen) == 0);
  m->port = ntohs(a.sin_port);
  pthread_mutex_init(&m->mu, NULL);
  cr_assert(pthread_create(&m->thread, NULL, mini_main, m) == 0);
}

static void mini_stop(struct mini *m) {
  atomic_store(&m->stop, 1);
  shutdown(m->lfd, SHUT_RDWR); /* wakes accept() */
  pthread_join(m->thread, NULL);
  close(m->lfd);
  pthread_mutex_destroy(&m->mu);
}

static sluice_operator *mini_op(struct mini *m) {
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", m->port);
  return http_op(th_opts("endpoint", ep, "max_attempts", "1", NULL));
}

/* ------------------------------------------------------------------ */
/* stat                                                                */
/* ------------------------------------------------------------------ */

Test(http, stat_file) {
  struct ctx c = {0};
  ctx_open(&c);
  char *p = make(&c, "f.bin", 12345, 1);
  set_mtime(p, 1700000000);
  sluice_metadata *m;
  TH_OK(sluice_stat(c.op, "f.bin", &m));
  cr_assert_eq(sluice_metadata_size(m), 12345);
  cr_assert_eq(sluice_metadata_mtime(m), 1700000000);
  cr_assert_eq(sluice_metadata_is_dir(m), 0);
  /* nginx: a strong ETag "<mtime hex>-<size hex>". */
  cr_assert_str_eq(sluice_metadata_etag(m), "\"6553f100-3039\"");
  cr_assert_str_eq(sluice_metadata_content_type(m), "application/octet-stream");
  sluice_metadata_free(m);
  /* A leading '/' is ignored, as everywhere. */
  TH_OK(sluice_stat(c.op, "/f.bin", &m));
  cr_assert_eq(sluice_metadata_size(m), 12345);
  sluice_metadata_free(m);
  free(p);
  ctx_close(&c);
}

Test(http, stat_missing_and_directories) {
  struct ctx c = {0};
  ctx_open(&c);
  sluice_metadata *m = (sluice_metadata *)1;
  expect_err(sluice_stat(c.op, "no/such.bin", &m), SLUICE_ERR_NOT_FOUND, "stat missing",
             "http:", "HEAD", "'no/such.bin'", "404", NULL);
  cr_assert_null(m);
  mkdir_in(&c, "sub");
  expect_err(sluice_stat(c.op, "sub/", &m), SLUICE_ERR_UNSUPPORTED, "stat sub/", "http:", "'sub/'",
             "no directories", NULL);
  expect_err(sluice_stat(c.op, "", &m), SLUICE_ERR_UNSUPPORTED, "stat root", "no directories",
             NULL);
  /* nginx redirects a directory named without its '/' (301): not followed. */
  expect_err(sluice_stat(c.op, "sub", &m), SLUICE_ERR_CONFIG_INVALID, "stat sub", "301",
             "redirects are not followed", NULL);
  ctx_close(&c);
}

/* ------------------------------------------------------------------ */
/* sluice_read                                                         */
/* ------------------------------------------------------------------ */

static void read_expect(sluice_operator *op, const char *path, uint64_t off, uint64_t len,
                        size_t want_len, uint64_t seed) {
  void *buf;
  size_t n;
  TH_OK(sluice_read(op, path, off, len, &buf, &n));
  cr_assert_eq(n, want_len, "read %s [%llu, +%llu): %zu bytes, expected %zu", path,
               (unsigned long long)off, (unsigned long long)len, n, want_len);
  check_bytes(buf, n, seed, off);
  sluice_free(buf);
}

Test(http, read_whole_and_ranges) {
  struct ctx c = {0};
  ctx_open(&c);
  const uint64_t size = 100000;
  mkdir_in(&c, "d");
  free(make(&c, "d/f.bin", size, 2));
  read_expect(c.op, "d/f.bin", 0, UINT64_MAX, size, 2);
  read_expect(c.op, "d/f.bin", 0, 1, 1, 2);
  read_expect(c.op, "d/f.bin", 10, 100, 100, 2);
  read_expect(c.op, "d/f.bin", 5, UINT64_MAX, size - 5, 2);
  read_expect(c.op, "d/f.bin", size - 1, 10, 1, 2);
  read_expect(c.op, "d/f.bin", 4096, 0, 0, 2);
  read_expect(c.op, "d/f.bin", size, UINT64_MAX, 0, 2); /* at the end: nothing */
  void *buf = (void *)1;
  size_t n = 1;
  expect_err(sluice_read(c.op, "d/f.bin", size + 1, 1, &buf, &n), SLUICE_ERR_RANGE_NOT_SATISFIABLE,
             "read past the end", "http:", "'d/f.bin'", NULL);
  cr_assert_null(buf);
  cr_assert_eq(n, 0);
  expect_err(sluice_read(c.op, "d/none.bin", 0, 10, &buf, &n), SLUICE_ERR_NOT_FOUND, "read missing",
             "'d/none.bin'", NULL);

  /* An empty file: no GET at all. */
  free(make(&c, "empty", 0, 0));
  read_expect(c.op, "empty", 0, UINT64_MAX, 0, 0);

  /* Names that need percent-encoding in the URL. */
  const char *odd = "a b+c%&=;,~é.bin";
  free(make(&c, odd, 777, 3));
  read_expect(c.op, odd, 0, UINT64_MAX, 777, 3);
  read_expect(c.op, odd, 700, 100, 77, 3);
  ctx_close(&c);
}

/* ------------------------------------------------------------------ */
/* Streaming readers                                                   */
/* ------------------------------------------------------------------ */

/* Reads all of r into check_bytes with read sizes cycling through sizes[];
 * returns the byte count. */
static uint64_t drain_check(sluice_reader *r, const size_t *sizes, size_t nsizes, uint64_t seed,
                            uint64_t off) {
  size_t cap = 0;
  for (size_t i = 0; i < nsizes; i++) cap = sizes[i] > cap ? sizes[i] : cap;
  unsigned char *buf = malloc(cap);
  cr_assert(buf);
  uint64_t total = 0;
  for (size_t i = 0;; i++) {
    size_t n;
    TH_OK(sluice_reader_read(r, buf, sizes[i % nsizes], &n));
    if (!n) break;
    cr_assert_leq(n, sizes[i % nsizes]);
    check_bytes(buf, n, seed, off + total);
    total += n;
  }
  free(buf);
  return total;
}

Test(http, reader_40mib_odd_buffer_sizes) {
  struct ctx c = {0};
  ctx_open(&c);
  const uint64_t size = 40 * MiB + 4321;
  free(make(&c, "big.bin", size, 4));
  /* 1 byte, primes, a bit over one read-ahead block (served straight into
   * the caller's buffer), ... */
  static const size_t sizes[] = {1, 4093, 65537, 1, 1000003, 9 * MiB + 7, 3, 131071, 7 * MiB + 1};
  sluice_reader *r;
  TH_OK(sluice_reader_open(c.op, "big.bin", NULL, &r));
  cr_assert_eq(sluice_reader_size(r), size);
  cr_assert_eq(drain_check(r, sizes, sizeof sizes / sizeof sizes[0], 4, 0), size);
  cr_assert_eq(sluice_reader_size(r), 0);
  sluice_reader_free(r);

  /* A range, read ahead by 4 parallel positioned reads. */
  sluice_options *o =
      th_opts("offset", "12345", "length", "20971523", "concurrent", "4", "chunk", "1MiB", NULL);
  TH_OK(sluice_reader_open(c.op, "big.bin", o, &r));
  sluice_options_free(o);
  cr_assert_eq(sluice_reader_size(r), 20971523);
  cr_assert_eq(drain_check(r, sizes, sizeof sizes / sizeof sizes[0], 4, 12345), 20971523);
  sluice_reader_free(r);
  ctx_close(&c);
}

Test(http, write_from_http_to_fs) {
  struct ctx c = {0};
  ctx_open(&c);
  uint64_t size = th_big_size(1ull << 30) / 4;
  if (size > 256 * MiB) size = 256 * MiB;
  size += 12345; /* not a whole number of chunks */
  free(make(&c, "copy.bin", size, 5));
  char *out = th_tmpdir();
  sluice_operator *fs = th_fs_op(out);
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(c.op, "copy.bin", NULL, &r));
  TH_OK(sluice_writer_open(fs, "copy.bin", NULL, &w));
  sluice_options *o = th_opts("readers", "4", NULL);
  TH_OK(sluice_write_from(w, r, o));
  TH_OK(sluice_writer_close(w));
  sluice_options_free(o);
  sluice_writer_free(w);
  sluice_reader_free(r);
  unsigned char got[32], want[32];
  char *dst = th_join(out, "copy.bin");
  th_sha256_file(dst, got);
  th_sha256_generated(size, 5, want);
  cr_assert(memcmp(got, want, 32) == 0, "SHA-256 of the copy differs");
  /* The readers fetched it with ranged GETs (206), pinned by If-Match. */
  char name[300];
  snprintf(name, sizeof name, "/%s/copy.bin", c.name);
  int ranged = access_log_count(name, "\" 206 ");
  if (ranged >= 0) cr_assert_geq(ranged, 2, "only %d ranged GETs of %s", ranged, name);
  free(dst);
  sluice_operator_free(fs);
  th_rmrf(out);
  free(out);
  ctx_close(&c);
}

/* ------------------------------------------------------------------ */
/* Files that change under a reader                                    */
/* ------------------------------------------------------------------ */

Test(http, file_replaced_while_reading) {
  struct ctx c = {0};
  ctx_open(&c);
  const uint64_t size = 20 * MiB;
  char *p = make(&c, "f.bin", size, 6);
  set_mtime(p, 1600000000);
  sluice_reader *r;
  TH_OK(sluice_reader_open(c.op, "f.bin", NULL, &r));
  /* The first read fetches the first read-ahead block (8 MiB). */
  unsigned char *buf = malloc(MiB);
  size_t n;
  TH_OK(sluice_reader_read(r, buf, MiB, &n));
  cr_assert_eq(n, MiB);
  check_bytes(buf, n, 6, 0);

  /* Replaced by a file of the same size with a later mtime: nginx's ETag
   * changes with it, and the next ranged GET's If-Match fails. */
  char *tmp = th_join(c.dir, "f.bin.new");
  th_make_file(tmp, size, 7);
  set_mtime(tmp, 1600000100);
  cr_assert(rename(tmp, p) == 0);

  uint64_t pos = n;
  sluice_error *err = NULL;
  while (!err) {
    err = sluice_reader_read(r, buf, MiB, &n);
    if (err) break;
    cr_assert_neq(n, 0, "read to the end of a replaced file without an error");
    check_bytes(buf, n, 6, pos); /* only bytes of the first version */
    pos += n;
  }
  cr_assert_eq(pos, 8 * MiB, "the error came at %llu, not after the first block",
               (unsigned long long)pos);
  expect_err(err, SLUICE_ERR_CONDITION_NOT_MATCH, "read of a replaced file", "http:", "GET",
             "'f.bin'", "412", "changed while it was being read", NULL);
  sluice_reader_free(r);

  /* Replaced by a file of another size with the same mtime: the ETag
   * changes too (its second half is the size). */
  TH_OK(sluice_reader_open(c.op, "f.bin", NULL, &r));
  TH_OK(sluice_reader_read(r, buf, MiB, &n));
  th_make_file(tmp, size + 1, 8);
  set_mtime(tmp, 1600000100);
  cr_assert(rename(tmp, p) == 0);
  void *all;
  size_t alen;
  /* A new reader sees the new version. */
  read_expect(c.op, "f.bin", 10 * MiB, 100, 100, 8);
  pos = n;
  while (!(err = sluice_reader_read(r, buf, MiB, &n))) {
    cr_assert_neq(n, 0);
    pos += n;
  }
  cr_assert_eq(pos, 8 * MiB);
  expect_err(err, SLUICE_ERR_CONDITION_NOT_MATCH, "read of a resized file", "changed", NULL);
  sluice_reader_free(r);

  /* Deleted under a reader: the next GET is a 404. */
  TH_OK(sluice_reader_open(c.op, "f.bin", NULL, &r));
  TH_OK(sluice_reader_read(r, buf, 1, &n));
  cr_assert(unlink(p) == 0);
  while (!(err = sluice_reader_read(r, buf, MiB, &n))) cr_assert_neq(n, 0);
  expect_err(err, SLUICE_ERR_NOT_FOUND, "read of a deleted file", "'f.bin'", NULL);
  sluice_reader_free(r);
  expect_err(sluice_read(c.op, "f.bin", 0, 1, &all, &alen), SLUICE_ERR_NOT_FOUND, "read deleted",
             NULL);
  free(buf);
  free(tmp);
  free(p);
  ctx_close(&c);
}

/* ------------------------------------------------------------------ */
/* URIs                                                                */
/* ------------------------------------------------------------------ */

Test(http, operator_from_uri) {
  struct ctx c = {0};
  ctx_open(&c);
  mkdir_in(&c, "dir");
  free(make(&c, "dir/file.bin", 5000, 9));
  free(make(&c, "dir/a b%.bin", 300, 10));

  char *uri, *path;
  sluice_operator *op;
  cr_assert(asprintf(&uri, "%s/%s/dir/file.bin", EP, c.name) > 0);
  TH_OK(sluice_operator_from_uri(uri, NULL, &op, &path));
  cr_assert_str_eq(sluice_operator_scheme(op), "http");
  char *want;
  cr_assert(asprintf(&want, "%s/dir/file.bin", c.name) > 0);
  cr_assert_str_eq(path, want);
  read_expect(op, path, 0, UINT64_MAX, 5000, 9);
  read_expect(op, path, 4000, 2000, 1000, 9);
  sluice_free(path);
  sluice_operator_free(op);
  free(uri);
  free(want);

  /* %-escapes in the URL are decoded; options other than the endpoint are
   * kept. */
  cr_assert(asprintf(&uri, "%s/%s/dir/a%%20b%%25.bin", EP, c.name) > 0);
  sluice_options *o = th_opts("max_attempts", "2", NULL);
  TH_OK(sluice_operator_from_uri(uri, o, &op, &path));
  sluice_options_free(o);
  cr_assert(asprintf(&want, "%s/dir/a b%%.bin", c.name) > 0);
  cr_assert_str_eq(path, want);
  read_expect(op, path, 0, UINT64_MAX, 300, 10);
  sluice_free(path);
  sluice_operator_free(op);
  free(uri);
  free(want);

  /* https: parsed the same way (nothing is fetched by from_uri). */
  TH_OK(sluice_operator_from_uri("https://127.0.0.1:1/x/y.bin", NULL, &op, &path));
  cr_assert_str_eq(sluice_operator_scheme(op), "http");
  cr_assert_str_eq(path, "x/y.bin");
  sluice_free(path);
  sluice_operator_free(op);

  static const char *const bad[] = {"http://127.0.0.1/x?a=b", "http://127.0.0.1/x#frag",
                                    "http:///x", "http://127.0.0.1/a%zz", "http://127.0.0.1/a%00b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    op = (sluice_operator *)1;
    path = (char *)1;
    expect_err(sluice_operator_from_uri(bad[i], NULL, &op, &path), SLUICE_ERR_INVALID_ARGUMENT,
               bad[i], NULL);
    cr_assert_null(op);
    cr_assert_null(path);
  }
  /* A bad port reaches the service's endpoint check. */
  expect_err(sluice_operator_from_uri("http://127.0.0.1:99999/x", NULL, &op, &path),
             SLUICE_ERR_CONFIG_INVALID, "bad port", "port", NULL);
  ctx_close(&c);
}

/* ------------------------------------------------------------------ */
/* Read-only, configuration                                            */
/* ------------------------------------------------------------------ */

Test(http, writes_deletes_lists_are_unsupported) {
  struct ctx c = {0};
  ctx_open(&c);
  free(make(&c, "f.bin", 10, 11));
  expect_err(sluice_write(c.op, "g.bin", "abc", 3, NULL), SLUICE_ERR_UNSUPPORTED, "write",
             "http: write 'g.bin': the http service is read-only", NULL);
  sluice_writer *w = (sluice_writer *)1;
  expect_err(sluice_writer_open(c.op, "g.bin", NULL, &w), SLUICE_ERR_UNSUPPORTED, "writer_open",
             "read-only", NULL);
  cr_assert_null(w);
  expect_err(sluice_delete(c.op, "f.bin"), SLUICE_ERR_UNSUPPORTED, "delete",
             "http: delete 'f.bin': the http service is read-only", NULL);
  sluice_lister *l = (sluice_lister *)1;
  expect_err(sluice_list(c.op, "", NULL, &l), SLUICE_ERR_UNSUPPORTED, "list", "read-only", NULL);
  cr_assert_null(l);
  expect_err(sluice_create_dir(c.op, "d/"), SLUICE_ERR_UNSUPPORTED, "create_dir", NULL);
  char *url = (char *)1;
  expect_err(sluice_presign(c.op, "GET", "f.bin", 60, &url), SLUICE_ERR_UNSUPPORTED, "presign",
             NULL);
  cr_assert_null(url);
  /* The file is untouched. */
  read_expect(c.op, "f.bin", 0, UINT64_MAX, 10, 11);
  ctx_close(&c);
}

Test(http, configuration_errors) {
  need_server();
  sluice_operator *op = (sluice_operator *)1;
  expect_err(sluice_operator_new("http", NULL, &op), SLUICE_ERR_CONFIG_INVALID, "no options",
             "endpoint", NULL);
  cr_assert_null(op);
  sluice_options *o = th_opts("ca_file", "/dev/null", NULL);
  expect_err(sluice_operator_new("http", o, &op), SLUICE_ERR_CONFIG_INVALID, "no endpoint",
             "http:", "'endpoint' is required", NULL);
  sluice_options_free(o);
  o = th_opts("endpoint", EP, "bucket", "b", NULL);
  expect_err(sluice_operator_new("http", o, &op), SLUICE_ERR_INVALID_ARGUMENT, "unknown option",
             "bucket", NULL);
  sluice_options_free(o);

  static const char *const bad_endpoints[] = {
      "",
      "ftp://127.0.0.1/",
      "127.0.0.1:80",
      "http://",
      "http:///base",
      "http://127.0.0.1:0",
      "http://127.0.0.1:65536",
      "http://127.0.0.1:8x",
      "http://127.0.0.1:",
      "http://u:p@127.0.0.1/",
      "http://127.0.0.1/a?b",
      "http://127.0.0.1/a b",
      "http://[::1",
      "http://[]:80",
  };
  for (size_t i = 0; i < sizeof bad_endpoints / sizeof bad_endpoints[0]; i++) {
    o = th_opts("endpoint", bad_endpoints[i], NULL);
    expect_err(sluice_operator_new("http", o, &op), SLUICE_ERR_CONFIG_INVALID, bad_endpoints[i],
               "http:", NULL);
    sluice_options_free(o);
  }
  static const char *const bad_tuning[][2] = {
      {"max_attempts", "0"},
      {"max_attempts", "21"},
      {"connect_timeout", "10K"},
      {"connect_timeout", "0"},
      {"low_speed_time", "3601"},
      {"low_speed_limit", "x"},
      {"ca_file", "/nonexistent/ca.pem"},
  };
  for (size_t i = 0; i < sizeof bad_tuning / sizeof bad_tuning[0]; i++) {
    o = th_opts("endpoint", EP, bad_tuning[i][0], bad_tuning[i][1], NULL);
    expect_err(sluice_operator_new("http", o, &op), SLUICE_ERR_CONFIG_INVALID, bad_tuning[i][0],
               "http:", bad_tuning[i][0], NULL);
    sluice_options_free(o);
  }
  /* Accepted: IPv6 literal, upper-case scheme, every tuning option. */
  o = th_opts("endpoint", "HTTP://[::1]:8080/base/", "max_attempts", "3", "connect_timeout", "500",
              "low_speed_limit", "1K", "low_speed_time", "5", NULL);
  TH_OK(sluice_operator_new("http", o, &op));
  sluice_options_free(o);
  sluice_operator_free(op);
}

Test(http, connection_refused_is_a_network_error_after_retries) {
  need_server();
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", closed_port());
  sluice_operator *op =
      http_op(th_opts("endpoint", ep, "max_attempts", "2", "connect_timeout", "2000", NULL));
  sluice_metadata *m;
  expect_err(sluice_stat(op, "dir/f.bin", &m), SLUICE_ERR_NETWORK, "stat", "http: HEAD",
             "'dir/f.bin'", "after 2 attempts", NULL);
  void *buf;
  size_t n;
  expect_err(sluice_read(op, "dir/f.bin", 0, 10, &buf, &n), SLUICE_ERR_NETWORK, "read",
             "'dir/f.bin'", "after 2 attempts", NULL);
  sluice_operator_free(op);
}

/* ------------------------------------------------------------------ */
/* https: nginx-http.sh start --tls, with a throwaway CA               */
/* ------------------------------------------------------------------ */

/* tests/check-servers.sh also starts nginx with TLS on the same kind of
 * docroot and exports SLUICE_HTTPS_ENDPOINT (https://127.0.0.1:PORT),
 * SLUICE_HTTPS_ROOT and SLUICE_HTTPS_CA, the PEM of a CA made for the run
 * that signed the server's certificate (SANs IP:127.0.0.1, DNS:localhost).
 * No system trust store knows that CA. */
static const char *TLS_EP;   /* https://127.0.0.1:PORT */
static const char *TLS_ROOT; /* the directory the TLS nginx serves */
static const char *TLS_CA;   /* the CA's PEM */

static void need_tls_server(void) {
  TLS_EP = getenv("SLUICE_HTTPS_ENDPOINT");
  if (!TLS_EP || !*TLS_EP) cr_skip_test("no HTTPS server: run through tests/check-servers.sh");
  TLS_ROOT = getenv("SLUICE_HTTPS_ROOT");
  TLS_CA = getenv("SLUICE_HTTPS_CA");
  cr_assert(TLS_ROOT && *TLS_ROOT && TLS_CA && *TLS_CA,
            "SLUICE_HTTPS_ENDPOINT is set but SLUICE_HTTPS_ROOT or SLUICE_HTTPS_CA is not");
}

/* As ctx_open, on the TLS server: c->op has endpoint TLS_EP/<name>/ and
 * ca_file=ca unless ca is NULL (then the system's CAs). */
static void tls_ctx_open(struct ctx *c, const char *ca) {
  need_tls_server();
  cr_assert(asprintf(&c->name, "t-%ld-%u", (long)getpid(), ++dir_counter) > 0);
  c->dir = th_join(TLS_ROOT, c->name);
  cr_assert(mkdir(c->dir, 0755) == 0, "mkdir %s: %s", c->dir, strerror(errno));
  char *ep;
  cr_assert(asprintf(&ep, "%s/%s/", TLS_EP, c->name) > 0);
  c->op =
      http_op(ca ? th_opts("endpoint", ep, "ca_file", ca, NULL) : th_opts("endpoint", ep, NULL));
  free(ep);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* err must be a certificate verification failure: NETWORK, not retryable,
 * tried once (no "after N attempts"), saying why. */
static void expect_tls_verify_err(sluice_error *err, const char *what) {
  cr_assert(err != NULL, "%s succeeded without a trusted CA", what);
  const char *msg = sluice_error_message(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NETWORK, "%s: expected NETWORK, got [%s] %s",
               what, sluice_strerror(sluice_error_kind(err)), msg);
  cr_assert_eq(sluice_error_retryable(err), 0, "%s: retryable: %s", what, msg);
  cr_assert(strstr(msg, "TLS verification failed"), "%s: %s", what, msg);
  cr_assert(strstr(msg, "certificate"), "%s: message lacks 'certificate': %s", what, msg);
  cr_assert(!strstr(msg, "attempts"), "%s: retried: %s", what, msg);
  sluice_error_free(err);
}

Test(http, tls_ca_file_stat_and_ranged_reads) {
  struct ctx c = {0};
  need_tls_server();
  tls_ctx_open(&c, TLS_CA);
  const uint64_t size = 300000;
  char *p = make(&c, "f.bin", size, 21);
  set_mtime(p, 1700000000);
  free(p);
  sluice_metadata *m;
  TH_OK(sluice_stat(c.op, "f.bin", &m));
  cr_assert_eq(sluice_metadata_size(m), size);
  cr_assert_eq(sluice_metadata_mtime(m), 1700000000);
  cr_assert_str_eq(sluice_metadata_etag(m), "\"6553f100-493e0\"");
  sluice_metadata_free(m);
  read_expect(c.op, "f.bin", 0, UINT64_MAX, size, 21);
  read_expect(c.op, "f.bin", 12345, 100000, 100000, 21);
  read_expect(c.op, "f.bin", size - 7, 100, 7, 21);
  /* A streaming reader over several ranged GETs. */
  sluice_reader *r;
  sluice_options *ro = th_opts("offset", "1000", "chunk", "64KiB", NULL);
  TH_OK(sluice_reader_open(c.op, "f.bin", ro, &r));
  sluice_options_free(ro);
  static const size_t sizes[] = {1, 65536, 4095, 100003};
  cr_assert_eq(drain_check(r, sizes, 4, 21, 1000), size - 1000);
  sluice_reader_free(r);
  void *buf;
  size_t n;
  expect_err(sluice_read(c.op, "none.bin", 0, 10, &buf, &n), SLUICE_ERR_NOT_FOUND,
             "read missing over https", "'none.bin'", "404", NULL);

  /* The certificate also names DNS:localhost. */
  char *ep;
  const char *port = strrchr(TLS_EP, ':');
  cr_assert(port);
  cr_assert(asprintf(&ep, "https://localhost%s/%s", port, c.name) > 0);
  sluice_operator *op = http_op(th_opts("endpoint", ep, "ca_file", TLS_CA, NULL));
  read_expect(op, "f.bin", 77, 1000, 1000, 21);
  sluice_operator_free(op);
  free(ep);
  ctx_close(&c);
}

Test(http, tls_untrusted_certificate_fails_fast_and_is_not_retried) {
  struct ctx c = {0};
  tls_ctx_open(&c, NULL); /* the system's CAs, default max_attempts (5) */
  free(make(&c, "f.bin", 1000, 22));
  sluice_metadata *m = (sluice_metadata *)1;
  double t0 = now_s();
  expect_tls_verify_err(sluice_stat(c.op, "f.bin", &m), "stat with the system's CAs");
  double dt = now_s() - t0;
  cr_assert_null(m);
  cr_assert_lt(dt, th_seconds(2.0), "stat took %.2f s: retried?", dt);
  void *buf = (void *)1;
  size_t n = 1;
  t0 = now_s();
  expect_tls_verify_err(sluice_read(c.op, "f.bin", 0, 10, &buf, &n), "read");
  dt = now_s() - t0;
  cr_assert_lt(dt, th_seconds(2.0), "read took %.2f s: retried?", dt);
  cr_assert_null(buf);
  cr_assert_eq(n, 0);

  /* Even with max_attempts=20. */
  char *ep;
  cr_assert(asprintf(&ep, "%s/%s", TLS_EP, c.name) > 0);
  sluice_operator *op = http_op(th_opts("endpoint", ep, "max_attempts", "20", NULL));
  t0 = now_s();
  expect_tls_verify_err(sluice_stat(op, "f.bin", &m), "stat, max_attempts=20");
  dt = now_s() - t0;
  cr_assert_lt(dt, th_seconds(2.0), "stat took %.2f s: retried?", dt);
  sluice_operator_free(op);

  /* A CA bundle that does not hold the test CA fails the same way. */
  static const char sys_bundle[] = "/etc/ssl/certs/ca-certificates.crt";
  if (access(sys_bundle, R_OK) == 0) {
    op = http_op(th_opts("endpoint", ep, "ca_file", sys_bundle, NULL));
    expect_tls_verify_err(sluice_stat(op, "f.bin", &m), "stat, ca_file=system bundle");
    sluice_operator_free(op);
  }
  free(ep);
  ctx_close(&c);
}

Test(http, tls_missing_ca_file_is_a_configuration_error) {
  need_tls_server();
  sluice_operator *op = (sluice_operator *)1;
  sluice_options *o = th_opts("endpoint", TLS_EP, "ca_file", "/nonexistent/sluice-ca.pem", NULL);
  expect_err(sluice_operator_new("http", o, &op), SLUICE_ERR_CONFIG_INVALID, "missing ca_file",
             "http:", "ca_file='/nonexistent/sluice-ca.pem'", "cannot be read", NULL);
  cr_assert_null(op);
  sluice_options_free(o);
}

Test(http, tls_operator_from_uri_with_ca_file) {
  struct ctx c = {0};
  tls_ctx_open(&c, NULL);
  mkdir_in(&c, "dir");
  free(make(&c, "dir/file.bin", 5000, 23));
  char *uri, *path, *want;
  sluice_operator *op;
  cr_assert(asprintf(&uri, "%s/%s/dir/file.bin", TLS_EP, c.name) > 0);
  cr_assert(asprintf(&want, "%s/dir/file.bin", c.name) > 0);
  sluice_options *o = th_opts("ca_file", TLS_CA, NULL);
  TH_OK(sluice_operator_from_uri(uri, o, &op, &path));
  sluice_options_free(o);
  cr_assert_str_eq(sluice_operator_scheme(op), "http");
  cr_assert_str_eq(path, want);
  sluice_metadata *m;
  TH_OK(sluice_stat(op, path, &m));
  cr_assert_eq(sluice_metadata_size(m), 5000);
  sluice_metadata_free(m);
  read_expect(op, path, 0, UINT64_MAX, 5000, 23);
  read_expect(op, path, 4000, 2000, 1000, 23);
  sluice_free(path);
  sluice_operator_free(op);

  /* The same URI without ca_file: verification fails. */
  TH_OK(sluice_operator_from_uri(uri, NULL, &op, &path));
  expect_tls_verify_err(sluice_stat(op, path, &m), "from_uri without ca_file");
  sluice_free(path);
  sluice_operator_free(op);
  free(uri);
  free(want);
  ctx_close(&c);
}

/* ------------------------------------------------------------------ */
/* Servers unlike nginx                                                */
/* ------------------------------------------------------------------ */

Test(http, server_ignoring_ranges) {
  need_server();
  struct mini m = {.size = 100000, .seed = 12, .ignore_range = 1, .etag = "\"v1\""};
  mini_start(&m);
  sluice_operator *op = mini_op(&m);
  void *buf;
  size_t n;
  /* The whole file: a 200 is the right answer. */
  read_expect(op, "x.bin", 0, UINT64_MAX, 100000, 12);
  expect_err(sluice_read(op, "x.bin", 10, 5, &buf, &n), SLUICE_ERR_UNSUPPORTED, "range",
             "http: GET 'x.bin'", "server does not support ranges", NULL);
  expect_err(sluice_read(op, "x.bin", 0, 5, &buf, &n), SLUICE_ERR_UNSUPPORTED, "head of file",
             "server does not support ranges", NULL);
  sluice_operator_free(op);
  mini_stop(&m);
}

Test(http, weak_etag_pins_with_last_modified) {
  need_server();
  struct mini m = {.size = 50000,
                   .seed = 13,
                   .etag = "W/\"weak-1\"",
                   .last_modified = "Wed, 21 Oct 2015 07:28:00 GMT"};
  mini_start(&m);
  sluice_operator *op = mini_op(&m);
  sluice_metadata *md;
  TH_OK(sluice_stat(op, "w.bin", &md));
  cr_assert_str_eq(sluice_metadata_etag(md), "W/\"weak-1\"");
  cr_assert_eq(sluice_metadata_mtime(md), 1445412480);
  cr_assert_eq(sluice_metadata_size(md), 50000);
  sluice_metadata_free(md);

  read_expect(op, "w.bin", 100, 1000, 1000, 13);
  pthread_mutex_lock(&m.mu);
  cr_assert_str_eq(m.if_match, "", "If-Match sent with a weak ETag");
  cr_assert_str_eq(m.if_unmodified_since, "Wed, 21 Oct 2015 07:28:00 GMT");
  pthread_mutex_unlock(&m.mu);

  atomic_store(&m.changed, 1);
  void *buf;
  size_t n;
  expect_err(sluice_read(op, "w.bin", 100, 1000, &buf, &n), SLUICE_ERR_CONDITION_NOT_MATCH,
             "changed", "412", "changed while it was being read", NULL);
  sluice_operator_free(op);
  mini_stop(&m);
}

Test(http, strong_etag_pins_with_if_match) {
  need_server();
  struct mini m = {.size = 5000,
                   .seed = 14,
                   .etag = "\"s-1\"",
                   .last_modified = "Wed, 21 Oct 2015 07:28:00 GMT"};
  mini_start(&m);
  sluice_operator *op = mini_op(&m);
  read_expect(op, "s.bin", 1, 10, 10, 14);
  pthread_mutex_lock(&m.mu);
  cr_assert_str_eq(m.if_match, "\"s-1\"");
  cr_assert_str_eq(m.if_unmodified_since, "");
  pthread_mutex_unlock(&m.mu);
  sluice_operator_free(op);
  mini_stop(&m);
}

Test(http, no_content_length_cannot_be_read) {
  need_server();
  struct mini m = {.size = 5000, .seed = 15, .no_length = 1};
  mini_start(&m);
  sluice_operator *op = mini_op(&m);
  void *buf;
  size_t n;
  expect_err(sluice_read(op, "gen", 0, UINT64_MAX, &buf, &n), SLUICE_ERR_UNSUPPORTED, "read",
             "'gen'", "Content-Length", NULL);
  pthread_mutex_lock(&m.mu);
  cr_assert_eq(m.gets, 0);
  pthread_mutex_unlock(&m.mu);
  sluice_operator_free(op);
  mini_stop(&m);
}
