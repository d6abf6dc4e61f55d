/* SPDX-License-Identifier: MIT */
/* S3 XML replies and request bodies with libxml2's tree API; see xml.h. */
#include <libxml/parser.h>
#include <libxml/parserInternals.h> /* xmlCreateMemoryParserCtxt */
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>
#include <libxml/xmlwriter.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strncasecmp */

#include "error.h"
#include "s3/iso8601.h"
#include "s3/s3_error.h"
#include "s3/xml.h"
#include "strbuf.h"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

/* xmlInitParser() sets up libxml2's globals; after it, parsing separate
 * documents from several threads at once is safe (libxml2 >= 2.9). */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void init_libxml(void) { xmlInitParser(); }
static void ensure_init(void) { pthread_once(&init_once, init_libxml); }

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Which reply is being read, for messages: "s3: <op>[ '<path>'] reply: ". */
typedef struct reply {
  const char *op;
  const char *path;
} reply;

static sluice_error *bad(const reply *r, const char *fmt, ...) SLUICE__PRINTF(2, 3);
static sluice_error *bad(const reply *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  int rc = vasprintf(&msg, fmt, ap);
  va_end(ap);
  if (rc < 0) return sluice__error_oom();
  sluice_error *e;
  if (r->path)
    e = sluice__error(SLUICE_ERR_UNEXPECTED, "s3: %s '%s' reply: %s", r->op, r->path, msg);
  else
    e = sluice__error(SLUICE_ERR_UNEXPECTED, "s3: %s reply: %s", r->op, msg);
  free(msg);
  return e;
}

static sluice_error *oom(const reply *r) {
  return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "s3: %s reply: out of memory", r->op);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static int xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* What the parse callbacks saw; hangs off the context's _private. */
typedef struct parse_state {
  int dtd;    /* a document type declaration was refused */
  int failed; /* an error was recorded below */
  int nomem;
  int line;        /* of the first error */
  char first[160]; /* message of the first error: later ones are echoes */
} parse_state;

/* SAX callback for "<!DOCTYPE": S3 never sends one, and refusing it before
 * its internal subset is read means no entity is ever declared, so neither
 * entity bombs nor external entities can get anywhere. */
static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id) {
  (void)name;
  (void)external_id;
  (void)system_id;
  xmlParserCtxtPtr ctxt = ctx;
  parse_state *st = ctxt->_private;
  st->dtd = 1;
  xmlStopParser(ctxt);
}

/* Structured error callback of this context only: keeps the first error
 * (and keeps libxml2 off stderr). */
#if LIBXML_VERSION >= 21200
static void keep_first_error(void *ctx, const xmlError *e) {
#else
static void keep_first_error(void *ctx, xmlErrorPtr e) {
#endif
  xmlParserCtxtPtr ctxt = ctx;
  parse_state *st = ctxt->_private;
  if (!e || e->level < XML_ERR_ERROR) return;
  if (e->code == XML_ERR_NO_MEMORY) st->nomem = 1;
  if (st->failed) return;
  st->failed = 1;
  st->line = e->line;
  const char *m = e->message ? e->message : "error";
  size_t n = strnlen(m, sizeof(st->first) - 1);
  while (n > 0 && xml_space(m[n - 1])) n--;
  memcpy(st->first, m, n);
  st->first[n] = '\0';
}

/* Parses body into *out (a document with a root element), or fails. */
static sluice_error *parse(const reply *r, const char *body, size_t len, xmlDoc **out) {
  *out = NULL;
  if (!body && len)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "s3: %s reply: NULL body", r->op);
  if (len > SLUICE__S3_XML_MAX_BODY)
    return bad(r, "body of %zu bytes is over the limit of %zu", len, SLUICE__S3_XML_MAX_BODY);
  /* S3 keeps a slow CompleteMultipartUpload alive with spaces, which XML
   * does not allow before the declaration. */
  while (len > 0 && xml_space(*body)) {
    body++;
    len--;
  }
  if (len == 0) return bad(r, "empty body");
  ensure_init();
  xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(body, (int)len);
  if (!ctxt) return oom(r);
  parse_state st = {0};
  ctxt->_private = &st;
  ctxt->sax->internalSubset = refuse_dtd;
  ctxt->sax->serror = keep_first_error; /* used since sax->initialized is XML_SAX2_MAGIC */
  /* NONET: never fetch anything.  No NOENT (entity substitution) and no
   * DTDLOAD.  NOERROR/NOWARNING drop the default stderr reporters. */
  xmlCtxtUseOptions(ctxt,
                    XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  xmlParseDocument(ctxt);
  xmlDoc *doc = ctxt->myDoc;
  ctxt->myDoc = NULL;
  sluice_error *err = NULL;
  if (st.dtd) {
    err = bad(r, "document type declarations are refused");
  } else if (st.nomem) {
    err = oom(r);
  } else if (!ctxt->wellFormed || !doc) {
    if (st.failed)
      err = bad(r, "malformed XML (line %d: %s)", st.line, st.first);
    else
      err = bad(r, "malformed XML");
  } else if (!xmlDocGetRootElement(doc)) {
    err = bad(r, "no root element");
  }
  if (err && doc) {
    xmlFreeDoc(doc);
    doc = NULL;
  }
  xmlFreeParserCtxt(ctxt);
  *out = doc;
  return err;
}

/* An element with this local name, whatever its namespace. */
static int named(const xmlNode *n, const char *name) {
  return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *first_child(const xmlNode *parent, const char *name) {
  for (xmlNode *c = parent->children; c; c = c->next)
    if (named(c, name)) return c;
  return NULL;
}

static size_t count_children(const xmlNode *parent, const char *name) {
  size_t n = 0;
  for (xmlNode *c = parent->children; c; c = c->next) n += named(c, name);
  return n;
}

/* The text directly inside n (text and CDATA children), malloc'd; NULL
 * only when out of memory. */
static char *text_of(const xmlNode *n) {
  size_t total = 0;
  for (xmlNode *c = n->children; c; c = c->next)
    if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
      total += strlen((const char *)c->content);
  char *s = malloc(total + 1);
  if (!s) return NULL;
  size_t at = 0;
  for (xmlNode *c = n->children; c; c = c->next) {
    if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
      size_t l = strlen((const char *)c->content);
      memcpy(s + at, c->content, l);
      at += l;
    }
  }
  s[at] = '\0';
  return s;
}

/* *out = text of parent's first <name>, or NULL when there is none. */
static sluice_error *opt_text(const reply *r, const xmlNode *parent, const char *name, char **out) {
  *out = NULL;
  xmlNode *n = first_child(parent, name);
  if (!n) return NULL;
  *out = text_of(n);
  return *out ? NULL : oom(r);
}

/* Same, but a missing element is an error: "no <name><where>". */
static sluice_error *req_text(const reply *r, const xmlNode *parent, const char *name,
                              const char *where, char **out) {
  sluice_error *err = opt_text(r, parent, name, out);
  if (!err && !*out) err = bad(r, "no <%s>%s", name, where);
  return err;
}

/* s without surrounding XML whitespace, as a (start, length) view. */
static const char *trimmed(const char *s, size_t *n) {
  while (xml_space(*s)) s++;
  size_t l = strlen(s);
  while (l > 0 && xml_space(s[l - 1])) l--;
  *n = l;
  return s;
}

/* Decimal digits only (surrounding whitespace allowed), no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
  size_t n;
  const char *p = trimmed(s, &n);
  if (n == 0) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    unsigned d = (unsigned)(p[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static int parse_bool(const char *s, int *out) {
  size_t n;
  const char *p = trimmed(s, &n);
  if (n == 4 && strncasecmp(p, "true", 4) == 0) {
    *out = 1;
    return 0;
  }
  if (n == 5 && strncasecmp(p, "false", 5) == 0) {
    *out = 0;
    return 0;
  }
  return -1;
}

/* Required <IsTruncated> of root. */
static sluice_error *truncated_flag(const reply *r, const xmlNode *root, int *out) {
  char *t = NULL;
  sluice_error *err = req_text(r, root, "IsTruncated", "", &t);
  if (!err && parse_bool(t, out) != 0)
    err = bad(r, "<IsTruncated> is '%.64s', not true or false", t);
  free(t);
  return err;
}

/* The document's root, which must be <name>. */
static sluice_error *expect_root(const reply *r, xmlDoc *doc, const char *name, xmlNode **root) {
  *root = xmlDocGetRootElement(doc);
  if (named(*root, name)) return NULL;
  return bad(r, "expected <%s>, got <%.64s>", name, (const char *)(*root)->name);
}

/* Whether keys in the reply are URL-encoded (<EncodingType>url). */
static sluice_error *url_encoding(const reply *r, const xmlNode *root, int *url) {
  *url = 0;
  char *t = NULL;
  sluice_error *err = opt_text(r, root, "EncodingType", &t);
  if (err || !t) return err;
  size_t n;
  const char *p = trimmed(t, &n);
  if (n == 3 && strncasecmp(p, "url", 3) == 0)
    *url = 1;
  else if (n != 0)
    err = bad(r, "unknown <EncodingType> '%.64s'", t);
  free(t);
  return err;
}

/* Decodes *s in place when url is set; names the element on failure. */
static sluice_error *maybe_decode(const reply *r, int url, char *s, const char *element) {
  if (!url || !s || sluice__uri_decode(s, 1) == 0) return NULL;
  return bad(r, "<%s> '%.256s' is not valid URL encoding", element, s);
}

/* ------------------------------------------------------------------ */
/* Error documents                                                     */
/* ------------------------------------------------------------------ */

/* Code (trimmed) and Message of an <Error> element; empty means NULL. */
static sluice_error *error_fields(const reply *r, const xmlNode *e, char **code, char **message) {
  *code = *message = NULL;
  sluice_error *err = opt_text(r, e, "Code", code);
  if (!err) err = opt_text(r, e, "Message", message);
  if (err) {
    free(*code);
    free(*message);
    *code = *message = NULL;
    return err;
  }
  if (*code) {
    size_t n;
    const char *p = trimmed(*code, &n);
    memmove(*code, p, n);
    (*code)[n] = '\0';
  }
  if (*code && !**code) {
    free(*code);
    *code = NULL;
  }
  if (*message && !**message) {
    free(*message);
    *message = NULL;
  }
  return NULL;
}

int sluice__s3_xml_error(const char *body, size_t len, char **code, char **message) {
  if (code) *code = NULL;
  if (message) *message = NULL;
  const reply r = {"error", NULL};
  xmlDoc *doc = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (err) {
    sluice_error_free(err);
    return -1;
  }
  int rc = -1;
  xmlNode *root = xmlDocGetRootElement(doc);
  char *c = NULL, *m = NULL;
  if (named(root, "Error")) {
    err = error_fields(&r, root, &c, &m);
    if (err) {
      sluice_error_free(err);
    } else {
      rc = 0;
      if (code)
        *code = c;
      else
        free(c);
      if (message)
        *message = m;
      else
        free(m);
    }
  }
  xmlFreeDoc(doc);
  return rc;
}

/* ------------------------------------------------------------------ */
/* CreateMultipartUpload                                               */
/* ------------------------------------------------------------------ */

sluice_error *sluice__s3_xml_upload_id(const char *body, size_t len, char **upload_id) {
  const reply r = {"CreateMultipartUpload", NULL};
  if (!upload_id)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "s3: %s reply: NULL upload_id", r.op);
  *upload_id = NULL;
  xmlDoc *doc = NULL;
  xmlNode *root = NULL;
  char *id = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (!err) err = expect_root(&r, doc, "InitiateMultipartUploadResult", &root);
  if (!err) err = req_text(&r, root, "UploadId", "", &id);
  if (!err && !*id) err = bad(&r, "empty <UploadId>");
  if (doc) xmlFreeDoc(doc);
  if (err) {
    free(id);
    return err;
  }
  *upload_id = id;
  return NULL;
}

sluice_error *sluice__s3_xml_copy_etag(const char *body, size_t len, const char *root_name,
                                       const char *op, char **etag) {
  const reply r = {op, NULL};
  *etag = NULL;
  xmlDoc *doc = NULL;
  xmlNode *root = NULL;
  char *e = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (!err) err = expect_root(&r, doc, root_name, &root);
  if (!err) err = req_text(&r, root, "ETag", "", &e);
  if (!err && !*e) err = bad(&r, "empty <ETag>");
  if (doc) xmlFreeDoc(doc);
  if (err) {
    free(e);
    return err;
  }
  *etag = e;
  return NULL;
}

/* ------------------------------------------------------------------ */
/* ListObjectsV2                                                       */
/* ------------------------------------------------------------------ */

void sluice__s3_list_page_clear(sluice__s3_list_page *p) {
  if (!p) return;
  for (size_t i = 0; p->objects && i < p->nobjects; i++) {
    free(p->objects[i].key);
    free(p->objects[i].etag);
  }
  free(p->objects);
  for (size_t i = 0; p->prefixes && i < p->nprefixes; i++) free(p->prefixes[i]);
  free(p->prefixes);
  free(p->next_token);
  memset(p, 0, sizeof(*p));
}

static sluice_error *parse_contents(const reply *r, const xmlNode *c, int url,
                                    sluice__s3_object *o) {
  o->mtime = -1;
  char *t = NULL;
  sluice_error *err = req_text(r, c, "Key", " in <Contents>", &o->key);
  if (!err) err = maybe_decode(r, url, o->key, "Key");
  if (!err && !*o->key) err = bad(r, "empty <Key> in <Contents>");
  if (!err) err = opt_text(r, c, "Size", &t);
  if (err) return err;
  if (!t) return bad(r, "no <Size> in <Contents> of '%s'", o->key);
  if (parse_u64(t, &o->size) != 0)
    err = bad(r, "<Size> '%.64s' of '%s' is not a byte count", t, o->key);
  free(t);
  t = NULL;
  if (!err) err = opt_text(r, c, "ETag", &o->etag);
  if (!err) err = opt_text(r, c, "LastModified", &t);
  if (!err && t && sluice__s3_parse_iso8601(t, &o->mtime) != 0)
    err = bad(r, "<LastModified> '%.64s' of '%s' is not an ISO-8601 time", t, o->key);
  free(t);
  return err;
}

static sluice_error *fill_list(const reply *r, const xmlNode *root, sluice__s3_list_page *out) {
  int url;
  sluice_error *err = url_encoding(r, root, &url);
  if (err) return err;
  size_t nc = count_children(root, "Contents"), np = 0;
  for (xmlNode *c = root->children; c; c = c->next)
    if (named(c, "CommonPrefixes")) np += count_children(c, "Prefix");
  if (nc && !(out->objects = calloc(nc, sizeof(*out->objects)))) return oom(r);
  if (np && !(out->prefixes = calloc(np, sizeof(*out->prefixes)))) return oom(r);
  for (xmlNode *c = root->children; c; c = c->next) {
    if (named(c, "Contents")) {
      /* Counted before it is filled, so clear() frees a half-filled one. */
      err = parse_contents(r, c, url, &out->objects[out->nobjects++]);
    } else if (named(c, "CommonPrefixes")) {
      if (!first_child(c, "Prefix")) err = bad(r, "no <Prefix> in <CommonPrefixes>");
      for (xmlNode *p = c->children; p && !err; p = p->next) {
        if (!named(p, "Prefix")) continue;
        char *s = text_of(p);
        if (!s) return oom(r);
        out->prefixes[out->nprefixes++] = s;
        err = maybe_decode(r, url, s, "Prefix");
      }
    }
    if (err) return err;
  }
  err = truncated_flag(r, root, &out->truncated);
  if (!err) err = opt_text(r, root, "NextContinuationToken", &out->next_token);
  if (!err && out->truncated && (!out->next_token || !*out->next_token))
    err = bad(r, "<IsTruncated> is true but there is no <NextContinuationToken>");
  char *t = NULL;
  if (!err) err = opt_text(r, root, "KeyCount", &t);
  if (!err && t) {
    uint64_t v;
    if (parse_u64(t, &v) != 0 || v > INT64_MAX)
      err = bad(r, "<KeyCount> '%.64s' is not a count", t);
    else
      out->key_count = (int64_t)v;
  }
  free(t);
  return err;
}

sluice_error *sluice__s3_xml_list_objects(const char *body, size_t len, sluice__s3_list_page *out) {
  const reply r = {"ListObjectsV2", NULL};
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "s3: %s reply: NULL page", r.op);
  memset(out, 0, sizeof(*out));
  out->key_count = -1;
  xmlDoc *doc = NULL;
  xmlNode *root = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (!err) err = expect_root(&r, doc, "ListBucketResult", &root);
  if (!err) err = fill_list(&r, root, out);
  if (doc) xmlFreeDoc(doc);
  if (err) sluice__s3_list_page_clear(out);
  return err;
}

/* ------------------------------------------------------------------ */
/* ListMultipartUploads                                                */
/* ------------------------------------------------------------------ */

void sluice__s3_uploads_page_clear(sluice__s3_uploads_page *p) {
  if (!p) return;
  for (size_t i = 0; p->uploads && i < p->n; i++) {
    free(p->uploads[i].key);
    free(p->uploads[i].upload_id);
  }
  free(p->uploads);
  free(p->next_key_marker);
  free(p->next_upload_id_marker);
  memset(p, 0, sizeof(*p));
}

static sluice_error *fill_uploads(const reply *r, const xmlNode *root,
                                  sluice__s3_uploads_page *out) {
  int url;
  sluice_error *err = url_encoding(r, root, &url);
  if (err) return err;
  size_t n = count_children(root, "Upload");
  if (n && !(out->uploads = calloc(n, sizeof(*out->uploads)))) return oom(r);
  for (xmlNode *c = root->children; c && !err; c = c->next) {
    if (!named(c, "Upload")) continue;
    sluice__s3_upload *u = &out->uploads[out->n++];
    err = req_text(r, c, "Key", " in <Upload>", &u->key);
    if (!err) err = maybe_decode(r, url, u->key, "Key");
    if (!err) err = req_text(r, c, "UploadId", " in <Upload>", &u->upload_id);
    if (!err && !*u->upload_id) err = bad(r, "empty <UploadId> for '%s'", u->key);
    char *t = NULL;
    u->initiated = -1;
    if (!err) err = opt_text(r, c, "Initiated", &t);
    if (!err && t && sluice__s3_parse_iso8601(t, &u->initiated) != 0)
      err = bad(r, "<Initiated> '%.64s' of '%s' is not an ISO-8601 time", t, u->key);
    free(t);
  }
  if (!err) err = truncated_flag(r, root, &out->truncated);
  if (!err) err = opt_text(r, root, "NextKeyMarker", &out->next_key_marker);
  if (!err) err = maybe_decode(r, url, out->next_key_marker, "NextKeyMarker");
  if (!err) err = opt_text(r, root, "NextUploadIdMarker", &out->next_upload_id_marker);
  if (!err && out->truncated && (!out->next_key_marker || !*out->next_key_marker))
    err = bad(r, "<IsTruncated> is true but there is no <NextKeyMarker>");
  return err;
}

sluice_error *sluice__s3_xml_list_uploads(const char *body, size_t len,
                                          sluice__s3_uploads_page *out) {
  const reply r = {"ListMultipartUploads", NULL};
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "s3: %s reply: NULL page", r.op);
  memset(out, 0, sizeof(*out));
  xmlDoc *doc = NULL;
  xmlNode *root = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (!err) err = expect_root(&r, doc, "ListMultipartUploadsResult", &root);
  if (!err) err = fill_uploads(&r, root, out);
  if (doc) xmlFreeDoc(doc);
  if (err) sluice__s3_uploads_page_clear(out);
  return err;
}

/* ------------------------------------------------------------------ */
/* ListParts                                                           */
/* ------------------------------------------------------------------ */

void sluice__s3_parts_page_clear(sluice__s3_parts_page *p) {
  if (!p) return;
  for (size_t i = 0; p->parts && i < p->n; i++) free(p->parts[i].etag);
  free(p->parts);
  memset(p, 0, sizeof(*p));
}

/* Required numeric child of parent, at most max. */
static sluice_error *req_uint(const reply *r, const xmlNode *parent, const char *name,
                              const char *where, uint64_t max, uint64_t *out) {
  char *t = NULL;
  sluice_error *err = req_text(r, parent, name, where, &t);
  if (!err && (parse_u64(t, out) != 0 || *out > max))
    err = bad(r, "<%s> '%.64s'%s is not a number up to %llu", name, t, where,
              (unsigned long long)max);
  free(t);
  return err;
}

static sluice_error *fill_parts(const reply *r, const xmlNode *root, sluice__s3_parts_page *out) {
  size_t n = count_children(root, "Part");
  if (n && !(out->parts = calloc(n, sizeof(*out->parts)))) return oom(r);
  sluice_error *err = NULL;
  uint64_t v;
  for (xmlNode *c = root->children; c && !err; c = c->next) {
    if (!named(c, "Part")) continue;
    sluice__s3_part *p = &out->parts[out->n++];
    err = req_uint(r, c, "PartNumber", " in <Part>", SLUICE__S3_MAX_PARTS, &v);
    if (!err && v == 0) err = bad(r, "<PartNumber> 0 in <Part>");
    p->number = (uint32_t)v;
    if (!err) err = req_uint(r, c, "Size", " in <Part>", UINT64_MAX, &p->size);
    if (!err) err = opt_text(r, c, "ETag", &p->etag);
  }
  if (!err) err = truncated_flag(r, root, &out->truncated);
  if (!err && out->truncated) {
    err = req_uint(r, root, "NextPartNumberMarker", " while <IsTruncated> is true",
                   SLUICE__S3_MAX_PARTS, &v);
    out->next_part_number_marker = (uint32_t)v;
  }
  return err;
}

sluice_error *sluice__s3_xml_list_parts(const char *body, size_t len, sluice__s3_parts_page *out) {
  const reply r = {"ListParts", NULL};
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "s3: %s reply: NULL page", r.op);
  memset(out, 0, sizeof(*out));
  xmlDoc *doc = NULL;
  xmlNode *root = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (!err) err = expect_root(&r, doc, "ListPartsResult", &root);
  if (!err) err = fill_parts(&r, root, out);
  if (doc) xmlFreeDoc(doc);
  if (err) sluice__s3_parts_page_clear(out);
  return err;
}

/* ------------------------------------------------------------------ */
/* Request bodies                                                      */
/* ------------------------------------------------------------------ */

/* Valid UTF-8 (no overlong forms or surrogates) of characters XML 1.0 can
 * carry: tab, newline, carriage return and U+0020 up, minus U+FFFE/U+FFFF. */
static int xml_text_ok(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    uint32_t c;
    int n;
    if (*p < 0x80) {
      c = *p;
      n = 1;
    } else if ((*p & 0xE0) == 0xC0) {
      c = *p & 0x1Fu;
      n = 2;
    } else if ((*p & 0xF0) == 0xE0) {
      c = *p & 0x0Fu;
      n = 3;
    } else if ((*p & 0xF8) == 0xF0) {
      c = *p & 0x07u;
      n = 4;
    } else {
      return 0;
    }
    for (int i = 1; i < n; i++) { /* stops at the NUL: it is no continuation byte */
      if ((p[i] & 0xC0) != 0x80) return 0;
      c = (c << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)))
      return 0;
    if (c < 0x20 && c != 0x9 && c != 0xA && c != 0xD) return 0;
    if ((c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF) return 0;
    p += n;
  }
  return 1;
}

/* A memory writer that has started the document and opened <root xmlns=S3>. */
static xmlTextWriterPtr start_body(xmlBufferPtr *buf, const char *root) {
  ensure_init();
  *buf = xmlBufferCreate();
  if (!*buf) return NULL;
  xmlTextWriterPtr w = xmlNewTextWriterMemory(*buf, 0);
  if (w && xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) >= 0 &&
      xmlTextWriterStartElement(w, BAD_CAST root) >= 0 &&
      xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST S3_XMLNS) >= 0)
    return w;
  if (w) xmlFreeTextWriter(w);
  xmlBufferFree(*buf);
  *buf = NULL;
  return NULL;
}

/* Closes the document, frees the writer and moves the text to *body. */
static int finish_body(xmlTextWriterPtr w, xmlBufferPtr buf, int ok, char **body, size_t *len) {
  if (ok && xmlTextWriterEndDocument(w) < 0) ok = 0;
  xmlFreeTextWriter(w); /* flushes into buf */
  if (ok) {
    size_t n = (size_t)xmlBufferLength(buf);
    char *s = malloc(n + 1);
    if (s) {
      memcpy(s, xmlBufferContent(buf), n);
      s[n] = '\0';
      *body = s;
      *len = n;
    } else {
      ok = 0;
    }
  }
  xmlBufferFree(buf);
  return ok;
}

sluice_error *sluice__s3_xml_complete_body(const char *const *etags, size_t n, char **body,
                                           size_t *len) {
  return sluice__s3_xml_complete_body_checksums(etags, NULL, NULL, n, body, len);
}

sluice_error *sluice__s3_xml_complete_body_checksums(const char *const *etags,
                                                     const char *const *checksums,
                                                     const char *element, size_t n, char **body,
                                                     size_t *len) {
  static const char what[] = "s3: CompleteMultipartUpload body";
  if (body) *body = NULL;
  if (len) *len = 0;
  if (!body || !len || !etags)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: NULL argument", what);
  if (n == 0 || n > SLUICE__S3_MAX_PARTS)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: %zu parts (S3 takes 1 to %d)", what, n,
                         SLUICE__S3_MAX_PARTS);
  for (size_t i = 0; i < n; i++) {
    if (!etags[i] || !*etags[i])
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: no ETag for part %zu", what, i + 1);
    if (!xml_text_ok(etags[i]))
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "%s: the ETag of part %zu is not UTF-8 text XML can carry", what, i + 1);
  }
  xmlBufferPtr buf;
  xmlTextWriterPtr w = start_body(&buf, "CompleteMultipartUpload");
  if (!w) return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
  int ok = 1;
  for (size_t i = 0; i < n && ok; i++) {
    ok = xmlTextWriterStartElement(w, BAD_CAST "Part") >= 0 &&
         xmlTextWriterWriteFormatElement(w, BAD_CAST "PartNumber", "%zu", i + 1) >= 0 &&
         xmlTextWriterWriteElement(w, BAD_CAST "ETag", BAD_CAST etags[i]) >= 0 &&
         (!checksums || !element || !checksums[i] ||
          xmlTextWriterWriteElement(w, BAD_CAST element, BAD_CAST checksums[i]) >= 0) &&
         xmlTextWriterEndElement(w) >= 0;
  }
  if (!finish_body(w, buf, ok, body, len))
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
  return NULL;
}

sluice_error *sluice__s3_xml_delete_body(const char *const *keys, size_t n, char **body,
                                         size_t *len) {
  static const char what[] = "s3: DeleteObjects body";
  if (body) *body = NULL;
  if (len) *len = 0;
  if (!body || !len || !keys)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: NULL argument", what);
  if (n == 0 || n > SLUICE__S3_MAX_DELETE_KEYS)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: %zu keys (S3 takes 1 to %d)", what, n,
                         SLUICE__S3_MAX_DELETE_KEYS);
  for (size_t i = 0; i < n; i++) {
    if (!keys[i] || !*keys[i])
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: key %zu is empty", what, i);
    if (!xml_text_ok(keys[i]))
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "%s: key %zu is not UTF-8 text XML can carry (control characters "
                           "or invalid UTF-8)",
                           what, i);
  }
  xmlBufferPtr buf;
  xmlTextWriterPtr w = start_body(&buf, "Delete");
  if (!w) return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
  int ok = xmlTextWriterWriteElement(w, BAD_CAST "Quiet", BAD_CAST "true") >= 0;
  for (size_t i = 0; i < n && ok; i++) {
    ok = xmlTextWriterStartElement(w, BAD_CAST "Object") >= 0 &&
         xmlTextWriterWriteElement(w, BAD_CAST "Key", BAD_CAST keys[i]) >= 0 &&
         xmlTextWriterEndElement(w) >= 0;
  }
  if (!finish_body(w, buf, ok, body, len))
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Replies that may carry errors                                       */
/* ------------------------------------------------------------------ */

/* The sluice error for an <Error> element of a 200 reply. */
static sluice_error *error_element(const reply *r, const xmlNode *e, const char *path) {
  char *code, *message;
  sluice_error *err = error_fields(r, e, &code, &message);
  if (err) return err;
  err = sluice__s3_error_from_reply(200, code, message, r->op, path);
  free(code);
  free(message);
  return err;
}

sluice_error *sluice__s3_xml_complete_result(const char *body, size_t len, const char *op,
                                             const char *path) {
  const reply r = {op ? op : "CompleteMultipartUpload", path};
  xmlDoc *doc = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (err) return err;
  xmlNode *root = xmlDocGetRootElement(doc);
  if (named(root, "Error"))
    err = error_element(&r, root, path);
  else if (!named(root, "CompleteMultipartUploadResult"))
    err =
        bad(&r, "expected <CompleteMultipartUploadResult>, got <%.64s>", (const char *)root->name);
  xmlFreeDoc(doc);
  return err;
}

sluice_error *sluice__s3_xml_complete_checksum(const char *body, size_t len, const char *element,
                                               char **value) {
  const reply r = {"CompleteMultipartUpload", NULL};
  *value = NULL;
  xmlDoc *doc = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (err) return err;
  xmlNode *root = xmlDocGetRootElement(doc);
  char *t = NULL;
  if (named(root, "CompleteMultipartUploadResult")) err = opt_text(&r, root, element, &t);
  if (t) {
    size_t n;
    const char *p = trimmed(t, &n);
    *value = strndup(p, n);
    free(t);
    if (!*value) err = oom(&r);
  }
  xmlFreeDoc(doc);
  return err;
}

/* The <Code> of a DeleteResult <Error> entry is NoSuchKey. */
static int is_no_such_key(const xmlNode *e) {
  xmlNode *c = first_child(e, "Code");
  if (!c) return 0;
  char *t = text_of(c);
  if (!t) return 0;
  size_t n;
  const char *p = trimmed(t, &n);
  int yes = n == 9 && strncmp(p, "NoSuchKey", 9) == 0;
  free(t);
  return yes;
}

sluice_error *sluice__s3_xml_delete_result(const char *body, size_t len, const char *op) {
  const reply r = {op ? op : "DeleteObjects", NULL};
  xmlDoc *doc = NULL;
  sluice_error *err = parse(&r, body, len, &doc);
  if (err) return err;
  xmlNode *root = xmlDocGetRootElement(doc);
  if (named(root, "Error")) {
    err = error_element(&r, root, NULL);
  } else if (!named(root, "DeleteResult")) {
    err = bad(&r, "expected <DeleteResult>, got <%.64s>", (const char *)root->name);
  } else {
    xmlNode *first = NULL;
    size_t failed = 0;
    for (xmlNode *c = root->children; c; c = c->next) {
      if (!named(c, "Error") || is_no_such_key(c)) continue;
      if (!first) first = c;
      failed++;
    }
    if (first) {
      char *key = NULL;
      err = opt_text(&r, first, "Key", &key);
      if (!err) err = error_element(&r, first, key);
      free(key);
      if (failed > 1) sluice__error_append(err, "; %zu more keys failed", failed - 1);
    }
  }
  xmlFreeDoc(doc);
  return err;
}
