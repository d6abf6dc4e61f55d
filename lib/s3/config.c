/* SPDX-License-Identifier: MIT */
/*
 * S3 configuration: options, then the AWS environment variables, then the
 * shared credentials and config files (see config.h for the order).
 *
 * The shared files are read whole into memory (they are small; 1 MiB at
 * most), parsed in place into (section, key, value) entries and wiped with
 * OPENSSL_cleanse() before they are freed, since they hold secrets.  A file
 * is read only when a lookup needs it, so a broken ~/.aws never gets in the
 * way of a configuration given entirely as options.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "error.h"
#include "options.h"
#include "s3/config.h"

#define BAD(...) sluice__error(SLUICE_ERR_CONFIG_INVALID, __VA_ARGS__)
#define MAX_SHARED_FILE (1u << 20)
#define MAX_BUCKET 255
#define MAX_REGION 64

const char *const sluice__s3_config_keys[] = {
    "bucket",
    "root",
    "region",
    "endpoint",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "virtual_host_style",
    "profile",
    "anonymous",
    "payload_signing",
    SLUICE__HTTPREQ_SETTINGS_KEYS,
    NULL,
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* An environment variable, NULL when unset or empty (the AWS tools treat
 * both alike). */
static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* Option name's value, NULL when absent; an option given as "" is an
 * error, since it is almost surely an unexpanded variable. */
static sluice_error *opt_str(const sluice_options *o, const char *name, const char **out) {
  *out = sluice_options_get(o, name);
  if (*out && !**out) {
    *out = NULL;
    return BAD("s3: option '%s' is empty", name);
  }
  return NULL;
}

static int set_str(char **dst, const char *src) {
  if (!src) return 0;
  *dst = strdup(src);
  return *dst ? 0 : -1;
}

/* Frees a string that may hold a secret. */
static void free_secret(char *s) {
  if (!s) return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

/* ------------------------------------------------------------------ */
/* Shared files                                                        */
/* ------------------------------------------------------------------ */

struct ini_entry {
  const char *section; /* profile name */
  const char *key;     /* NULL: the section header itself */
  const char *value;
};

struct shared_file {
  const char *label;    /* "shared credentials file" */
  const char *fallback; /* "~/.aws/credentials", shown when there is no home */
  int config_style;     /* sections are [default] and [profile name] */
  char *path;           /* NULL when neither the variable nor a home is known */
  int loaded, absent;
  char *buf;
  size_t len;
  struct ini_entry *e;
  size_t n, cap;
};

static void sf_free(struct shared_file *f) {
  if (f->buf) OPENSSL_cleanse(f->buf, f->len);
  free(f->buf);
  free(f->e);
  free(f->path);
}

static const char *sf_name(const struct shared_file *f) { return f->path ? f->path : f->fallback; }

static sluice_error *cannot_read(const struct shared_file *f, int err) {
  char buf[128];
  return sluice__error_set_errno(
      BAD("s3: cannot read %s %s: %s", f->label, f->path, strerror_r(err, buf, sizeof(buf))), err);
}

static int sf_add(struct shared_file *f, const char *section, const char *key, const char *value) {
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 32;
    struct ini_entry *e = realloc(f->e, cap * sizeof(*e));
    if (!e) return -1;
    f->e = e;
    f->cap = cap;
  }
  f->e[f->n++] = (struct ini_entry){section, key, value};
  return 0;
}

/* The profile a section header names, or NULL when it names none.  The
 * config file prefixes every profile but the default with "profile ". */
static const char *section_profile(const struct shared_file *f, char *inner) {
  inner = trim(inner);
  if (!*inner) return NULL;
  if (!f->config_style) return inner;
  if (strcmp(inner, "default") == 0) return inner;
  if (strncmp(inner, "profile", 7) != 0 || (inner[7] != ' ' && inner[7] != '\t')) return NULL;
  inner = trim(inner + 7);
  return *inner ? inner : NULL;
}

/* Parses f->buf in place: lines are cut at '\n', names and values are
 * trimmed where they lie. */
static sluice_error *sf_parse(struct shared_file *f) {
  char *p = f->buf, *end = f->buf + f->len;
  if (f->len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* UTF-8 BOM */
  const char *section = NULL;
  while (p < end) {
    char *line = p;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl) {
      *nl = '\0';
      p = nl + 1;
    } else {
      p = end; /* buf[len] is already '\0' */
    }
    /* Indented lines continue the previous key (the nested "s3 =" blocks
     * of the config file); nothing here reads them. */
    if (line[0] == ' ' || line[0] == '\t') continue;
    line = trim(line);
    if (!*line || *line == '#' || *line == ';') continue;
    if (*line == '[') {
      char *close = strchr(line, ']');
      section = NULL; /* keys under a malformed header belong to nothing */
      if (!close) continue;
      *close = '\0';
      section = section_profile(f, line + 1);
      if (section && sf_add(f, section, NULL, NULL) != 0) return sluice__error_oom();
      continue;
    }
    char *eq = strchr(line, '=');
    if (!eq || !section) continue;
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    for (char *c = value; *c; c++) /* " # comment" / " ; comment" ends a value */
      if ((*c == '#' || *c == ';') && c > value && (c[-1] == ' ' || c[-1] == '\t')) {
        *c = '\0';
        value = trim(value);
        break;
      }
    if (*key && sf_add(f, section, key, value) != 0) return sluice__error_oom();
  }
  return NULL;
}

/* Reads and parses f on first use.  A missing file is not an error (it is
 * reported as absent); any other failure to read it is. */
static sluice_error *sf_load(struct shared_file *f) {
  if (f->loaded) return NULL;
  f->loaded = 1;
  if (!f->path) {
    f->absent = 1;
    return NULL;
  }
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      f->absent = 1;
      return NULL;
    }
    return cannot_read(f, errno);
  }
  struct stat st;
  sluice_error *err = NULL;
  if (fstat(fd, &st) != 0) {
    err = cannot_read(f, errno);
  } else if (!S_ISREG(st.st_mode)) {
    err = BAD("s3: cannot read %s %s: not a regular file", f->label, f->path);
  } else if (st.st_size > (off_t)MAX_SHARED_FILE) {
    err = BAD("s3: %s %s is larger than %u bytes", f->label, f->path, MAX_SHARED_FILE);
  } else if (!(f->buf = malloc((size_t)st.st_size + 1))) {
    err = sluice__error_oom();
  } else {
    size_t want = (size_t)st.st_size;
    while (f->len < want) {
      ssize_t got = read(fd, f->buf + f->len, want - f->len);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        err = cannot_read(f, errno);
        break;
      }
      if (got == 0) break; /* shrank since fstat */
      f->len += (size_t)got;
    }
    f->buf[f->len] = '\0';
  }
  close(fd);
  return err ? err : sf_parse(f);
}

/* The last value of key in profile's sections, NULL when absent or "". */
static const char *sf_get(const struct shared_file *f, const char *profile, const char *key) {
  const char *v = NULL;
  for (size_t i = 0; i < f->n; i++)
    if (f->e[i].key && strcmp(f->e[i].section, profile) == 0 && strcasecmp(f->e[i].key, key) == 0)
      v = f->e[i].value;
  return v && *v ? v : NULL;
}

static int sf_has_profile(const struct shared_file *f, const char *profile) {
  for (size_t i = 0; i < f->n; i++)
    if (strcmp(f->e[i].section, profile) == 0) return 1;
  return 0;
}

/* "<path> [profile <name>]" plus why nothing was there, for messages.
 * NULL when out of memory. */
static char *sf_place(const struct shared_file *f, const char *profile) {
  const char *note = !f->path                      ? " (no home directory)"
                     : f->absent                   ? " (no such file)"
                     : !sf_has_profile(f, profile) ? " (no such profile)"
                                                   : "";
  char *s = NULL;
  if (asprintf(&s, "%s [profile %s]%s", sf_name(f), profile, note) < 0) return NULL;
  return s;
}

/* The home directory: $HOME, else the passwd entry.  *out NULL when
 * neither is known; -1 only when out of memory. */
static int home_dir(char **out) {
  *out = NULL;
  const char *h = env("HOME");
  if (h) return set_str(out, h);
  long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
  size_t n = sz > 0 ? (size_t)sz : 16384;
  char *buf = malloc(n);
  if (!buf) return -1;
  struct passwd pw, *res = NULL;
  int rc = 0;
  if (getpwuid_r(getuid(), &pw, buf, n, &res) == 0 && res && res->pw_dir && *res->pw_dir)
    rc = set_str(out, res->pw_dir);
  free(buf);
  return rc;
}

/* $var (with a leading "~/" expanded) or home + "/" + rel; NULL path when
 * there is no home to put it in.  -1 when out of memory. */
static int shared_path(const char *var, const char *home, const char *rel, char **out) {
  const char *v = env(var);
  *out = NULL;
  int n = 0;
  if (v && strncmp(v, "~/", 2) == 0 && home)
    n = asprintf(out, "%s/%s", home, v + 2);
  else if (v)
    n = asprintf(out, "%s", v);
  else if (home)
    n = asprintf(out, "%s/%s", home, rel);
  if (n < 0) {
    *out = NULL;
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Settings                                                            */
/* ------------------------------------------------------------------ */

struct ctx {
  const sluice_options *opts;
  const char *profile;
  const char *profile_from; /* NULL: the default, not named by anyone */
  struct shared_file creds, config;
};

sluice_error *sluice__s3_check_bucket(const char *b, sluice_errkind kind, const char *what) {
  if (!b || !*b) return sluice__error(kind, "%s is required", what);
  size_t n = strlen(b);
  if (n > MAX_BUCKET)
    return sluice__error(kind, "%s is longer than %d characters", what, MAX_BUCKET);
  if (strchr(b, '/'))
    return sluice__error(kind, "%s '%s' must not contain '/' (a key prefix goes in option 'root')",
                         what, b);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)b[i];
    if (!isalnum(c) && c != '.' && c != '-' && c != '_')
      return sluice__error(kind,
                           "%s has byte 0x%02x at offset %zu: bucket names use letters, digits, "
                           "'.', '-' and '_'",
                           what, c, i);
  }
  return NULL;
}

/* "", or the segments of r joined by '/' with one trailing '/'.  Empty and
 * "." segments go; ".." is refused, as a root cannot climb out of itself. */
static sluice_error *normalize_root(const char *r, char **out) {
  if (!r) r = "";
  for (const char *c = r; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      return BAD("s3: option 'root' contains a control character");
  char *o = malloc(strlen(r) + 2);
  if (!o) return sluice__error_oom();
  size_t len = 0;
  for (const char *p = r; *p;) {
    while (*p == '/') p++;
    const char *s = p;
    while (*p && *p != '/') p++;
    size_t sl = (size_t)(p - s);
    if (sl == 0 || (sl == 1 && s[0] == '.')) continue;
    if (sl == 2 && s[0] == '.' && s[1] == '.') {
      free(o);
      return BAD("s3: option root='%s' must not contain '..'", r);
    }
    memcpy(o + len, s, sl);
    len += sl;
    o[len++] = '/';
  }
  o[len] = '\0';
  *out = o;
  return NULL;
}

/* Bucket usable as the first label of a host name: S3's DNS rules (lower
 * case letters, digits, '-'; 3..63; letters or digits at both ends). */
static int dns_label_ok(const char *b) {
  size_t n = strlen(b);
  if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-') return 0;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)b[i]) && !isdigit((unsigned char)b[i]) && b[i] != '-') return 0;
  return 1;
}

/* Bucket usable in a host name at all (dots allowed: fine over http, and
 * over https with a certificate that covers them). */
static int dns_name_ok(const char *b) {
  size_t label = 0;
  for (const char *c = b;; c++) {
    if (*c == '.' || !*c) {
      if (label == 0 || label > 63 || c[-1] == '-') return 0;
      if (!*c) return 1;
      label = 0;
      continue;
    }
    if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '-') return 0;
    if (label == 0 && *c == '-') return 0;
    label++;
  }
}

static sluice_error *check_region(const char *r, const char *from) {
  size_t n = strlen(r);
  int ok = n <= MAX_REGION;
  for (size_t i = 0; ok && i < n; i++)
    ok = isalnum((unsigned char)r[i]) || r[i] == '-' || r[i] == '_' || r[i] == '.';
  if (!ok)
    return BAD(
        "s3: region '%s' (%s) is not a region name: up to %d letters, digits, '-', '_' "
        "or '.'",
        r, from, MAX_REGION);
  return NULL;
}

/* Validates an endpoint URL and drops its trailing '/'s. */
static sluice_error *normalize_endpoint(const char *e, const char *from, char **out) {
  size_t skip;
  if (strncasecmp(e, "https://", 8) == 0)
    skip = 8;
  else if (strncasecmp(e, "http://", 7) == 0)
    skip = 7;
  else
    return BAD("s3: endpoint '%s' (%s) must start with http:// or https://", e, from);
  for (const char *c = e; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
      return BAD("s3: endpoint '%s' (%s) must not contain spaces, control characters, '?' or '#'",
                 e, from);
  size_t n = strlen(e);
  while (n > skip && e[n - 1] == '/') n--;
  if (n == skip || e[skip] == '/') return BAD("s3: endpoint '%s' (%s) has no host", e, from);
  *out = strndup(e, n);
  return *out ? NULL : sluice__error_oom();
}

static sluice_error *set_credentials(sluice__s3_config *out, const char *ak, const char *sk,
                                     const char *token, const char *source) {
  if (set_str(&out->access_key_id, ak) || set_str(&out->secret_access_key, sk) ||
      set_str(&out->session_token, token) || set_str(&out->credential_source, source))
    return sluice__error_oom();
  return NULL;
}

/* Keys from one shared file; *found stays 0 when the profile there has
 * neither key. */
static sluice_error *creds_from_file(struct ctx *c, struct shared_file *f, int *found,
                                     sluice__s3_config *out) {
  sluice_error *err = sf_load(f);
  if (err) return err;
  const char *ak = sf_get(f, c->profile, "aws_access_key_id");
  const char *sk = sf_get(f, c->profile, "aws_secret_access_key");
  if (!ak && !sk) return NULL;
  *found = 1;
  char *place = sf_place(f, c->profile);
  if (!place) return sluice__error_oom();
  if (!ak || !sk) {
    err = BAD("s3: %s %s has %s but no %s", f->label, place,
              ak ? "aws_access_key_id" : "aws_secret_access_key",
              ak ? "aws_secret_access_key" : "aws_access_key_id");
  } else {
    char *source = NULL;
    if (asprintf(&source, "%s %s", f->label, place) < 0)
      err = sluice__error_oom();
    else
      err = set_credentials(out, ak, sk, sf_get(f, c->profile, "aws_session_token"), source);
    free(source);
  }
  free(place);
  return err;
}

static sluice_error *resolve_credentials(struct ctx *c, sluice__s3_config *out) {
  const char *ak, *sk, *token = sluice_options_get(c->opts, "session_token");
  sluice_error *err;
  if ((err = opt_str(c->opts, "access_key_id", &ak)) ||
      (err = opt_str(c->opts, "secret_access_key", &sk)))
    return err;
  if (token && !*token) token = NULL; /* "": no token, as the signer takes it */

  if (out->anonymous) {
    if (ak || sk || token)
      return BAD(
          "s3: option anonymous=true contradicts option '%s': anonymous requests carry "
          "no credentials",
          ak   ? "access_key_id"
          : sk ? "secret_access_key"
               : "session_token");
    return set_str(&out->credential_source, "anonymous") ? sluice__error_oom() : NULL;
  }
  if (ak || sk || token) {
    if (!ak || !sk)
      return BAD(
          "s3: option '%s' is missing: options give %s, and keys given as options need "
          "both access_key_id and secret_access_key",
          ak ? "secret_access_key" : "access_key_id",
          ak   ? "access_key_id"
          : sk ? "secret_access_key"
               : "only session_token");
    return set_credentials(out, ak, sk, token, "options");
  }

  ak = env("AWS_ACCESS_KEY_ID");
  sk = env("AWS_SECRET_ACCESS_KEY");
  if (ak || sk) {
    if (!ak || !sk)
      return BAD("s3: environment variable %s is not set, but %s is",
                 ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID",
                 ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY");
    return set_credentials(out, ak, sk, env("AWS_SESSION_TOKEN"), "environment");
  }

  int found = 0;
  if ((err = creds_from_file(c, &c->creds, &found, out)) || found) return err;
  if ((err = creds_from_file(c, &c->config, &found, out)) || found) return err;

  char *p1 = sf_place(&c->creds, c->profile), *p2 = sf_place(&c->config, c->profile);
  if (p1 && p2)
    err =
        BAD("s3: no credentials: looked in options access_key_id/secret_access_key, "
            "environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, %s, %s; set anonymous=true "
            "for public buckets",
            p1, p2);
  else
    err = sluice__error_oom();
  free(p1);
  free(p2);
  return err;
}

/* The profile, and whether someone named it (then it must exist). */
static sluice_error *resolve_profile(struct ctx *c) {
  sluice_error *err = opt_str(c->opts, "profile", &c->profile);
  if (err) return err;
  if (c->profile) {
    c->profile_from = "option 'profile'";
  } else if ((c->profile = env("AWS_PROFILE"))) {
    c->profile_from = "environment AWS_PROFILE";
  } else {
    c->profile = "default";
    return NULL;
  }
  if ((err = sf_load(&c->creds)) || (err = sf_load(&c->config))) return err;
  if (sf_has_profile(&c->creds, c->profile) || sf_has_profile(&c->config, c->profile)) return NULL;
  int dflt = strcmp(c->profile, "default") == 0;
  return BAD(
      "s3: profile '%s' (from %s) not found: looked for section [%s] in %s%s and "
      "[%s%s] in %s%s",
      c->profile, c->profile_from, c->profile, sf_name(&c->creds),
      c->creds.absent ? " (no such file)" : "", dflt ? "" : "profile ", c->profile,
      sf_name(&c->config), c->config.absent ? " (no such file)" : "");
}

/* Region and endpoint, each from the first place that has it. */
static sluice_error *resolve_location(struct ctx *c, sluice__s3_config *out) {
  const char *region, *endpoint, *rfrom = NULL, *efrom = NULL;
  char *place = NULL; /* the config file's profile, when it was consulted */
  sluice_error *err;
  if ((err = opt_str(c->opts, "region", &region)) ||
      (err = opt_str(c->opts, "endpoint", &endpoint)))
    return err;
  if (region)
    rfrom = "option 'region'";
  else if ((region = env("AWS_REGION")))
    rfrom = "environment AWS_REGION";
  else if ((region = env("AWS_DEFAULT_REGION")))
    rfrom = "environment AWS_DEFAULT_REGION";
  if (endpoint)
    efrom = "option 'endpoint'";
  else if ((endpoint = env("AWS_ENDPOINT_URL_S3")))
    efrom = "environment AWS_ENDPOINT_URL_S3";
  else if ((endpoint = env("AWS_ENDPOINT_URL")))
    efrom = "environment AWS_ENDPOINT_URL";
  if (!region || !endpoint) {
    if ((err = sf_load(&c->config))) return err;
    if (!(place = sf_place(&c->config, c->profile))) return sluice__error_oom();
    if (!region && (region = sf_get(&c->config, c->profile, "region"))) rfrom = place;
    if (!endpoint && (endpoint = sf_get(&c->config, c->profile, "endpoint_url"))) efrom = place;
    if (!region && !endpoint)
      err =
          BAD("s3: no region: looked in option 'region', environment AWS_REGION and "
              "AWS_DEFAULT_REGION, %s; set region (or endpoint, for an S3-compatible store)",
              place);
  }
  if (!err && endpoint) {
    out->custom_endpoint = 1;
    err = normalize_endpoint(endpoint, efrom, &out->endpoint);
  }
  if (!err && region) err = check_region(region, rfrom);
  /* Only an endpoint: S3-compatible stores rarely care, and sign with us-east-1. */
  if (!err && set_str(&out->region, region ? region : "us-east-1")) err = sluice__error_oom();
  if (!err && !out->endpoint) {
    const char *suffix = strncmp(out->region, "cn-", 3) == 0 ? ".cn" : "";
    if (asprintf(&out->endpoint, "https://s3.%s.amazonaws.com%s", out->region, suffix) < 0) {
      out->endpoint = NULL;
      err = sluice__error_oom();
    }
  }
  free(place);
  return err;
}

static sluice_error *resolve_tuning(const sluice_options *o, sluice__s3_config *out) {
  sluice_error *err;
  const char *signing = sluice_options_get(o, "payload_signing");
  if ((err = sluice__opt_as_config(sluice__opt_bool(o, "anonymous", 0, "s3", &out->anonymous))) ||
      (err = sluice__httpreq_settings_load(o, "s3", &out->net)))
    return err;
  if (!signing || strcasecmp(signing, "unsigned") == 0)
    out->sign_payload = 0;
  else if (strcasecmp(signing, "sha256") == 0)
    out->sign_payload = 1;
  else
    return BAD("s3: option payload_signing='%s' must be 'unsigned' or 'sha256'", signing);
  return NULL;
}

static sluice_error *load(struct ctx *c, sluice__s3_config *out) {
  const sluice_options *o = c->opts;
  const char *bucket = sluice_options_get(o, "bucket");
  sluice_error *err;
  if ((err = sluice__s3_check_bucket(bucket, SLUICE_ERR_CONFIG_INVALID, "s3: option 'bucket'")))
    return err;
  if (set_str(&out->bucket, bucket)) return sluice__error_oom();
  if ((err = normalize_root(sluice_options_get(o, "root"), &out->root)) ||
      (err = resolve_tuning(o, out)))
    return err;

  char *home = NULL;
  if (home_dir(&home) ||
      shared_path("AWS_SHARED_CREDENTIALS_FILE", home, ".aws/credentials", &c->creds.path) ||
      shared_path("AWS_CONFIG_FILE", home, ".aws/config", &c->config.path)) {
    free(home);
    return sluice__error_oom();
  }
  free(home);

  if ((err = resolve_profile(c))) return err;
  if (set_str(&out->profile, c->profile)) return sluice__error_oom();
  if ((err = resolve_credentials(c, out)) || (err = resolve_location(c, out))) return err;

  int vhost;
  const char *given = sluice_options_get(o, "virtual_host_style");
  if ((err = sluice__opt_as_config(sluice__opt_bool(o, "virtual_host_style", 0, "s3", &vhost))))
    return err;
  if (!given) {
    /* Path style for a bucket that cannot be a host label (and for dotted
     * names, which the *.s3 certificate does not cover), as the AWS SDKs do. */
    out->virtual_host_style = !out->custom_endpoint && dns_label_ok(out->bucket);
  } else if (vhost && !dns_name_ok(out->bucket)) {
    return BAD(
        "s3: option virtual_host_style=true needs a bucket name that is a valid host "
        "name (lower case letters, digits, '-', '.'), not '%s'; use "
        "virtual_host_style=false",
        out->bucket);
  } else {
    out->virtual_host_style = vhost;
  }
  return NULL;
}

sluice_error *sluice__s3_config_load(const sluice_options *opts, sluice__s3_config *out) {
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "s3: config_load: out is NULL");
  memset(out, 0, sizeof(*out));
  struct ctx c = {.opts = opts};
  c.creds.label = "shared credentials file";
  c.creds.fallback = "~/.aws/credentials";
  c.config.label = "shared config file";
  c.config.fallback = "~/.aws/config";
  c.config.config_style = 1;
  sluice_error *err = load(&c, out);
  sf_free(&c.creds);
  sf_free(&c.config);
  if (err) sluice__s3_config_clear(out);
  return err;
}

void sluice__s3_config_clear(sluice__s3_config *c) {
  if (!c) return;
  free(c->bucket);
  free(c->root);
  free(c->region);
  free(c->endpoint);
  free(c->access_key_id);
  free_secret(c->secret_access_key);
  free_secret(c->session_token);
  sluice__httpreq_settings_clear(&c->net);
  free(c->credential_source);
  free(c->profile);
  memset(c, 0, sizeof(*c));
}
