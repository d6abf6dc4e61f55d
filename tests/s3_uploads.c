/* SPDX-License-Identifier: MIT */
/* s3_uploads PREFIX: prints the multipart uploads in progress whose key
 * starts with PREFIX on the test server (SLUICE_S3_* from
 * tests/servers/swift-s3api.sh), one "KEY UPLOAD_ID" a line, and exits 0;
 * exits 2 when it cannot ask.  tests/test_cli.sh uses it to prove that an
 * interrupted `sluice put` left no upload behind: the command itself has
 * no reason to list uploads, so this reaches into the library's S3 request
 * engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "operator.h"
#include "s3/s3.h"
#include "s3/xml.h"

static const char *env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "s3_uploads: %s is not set\n", name);
    exit(2);
  }
  return v;
}

static int fail(sluice_error *err) {
  fprintf(stderr, "s3_uploads: %s\n", sluice_error_message(err));
  sluice_error_free(err);
  return 2;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: s3_uploads PREFIX\n");
    return 2;
  }
  sluice_options *o = sluice_options_new();
  const char *pairs[][2] = {{"endpoint", env("SLUICE_S3_ENDPOINT")},
                            {"region", env("SLUICE_S3_REGION")},
                            {"bucket", env("SLUICE_S3_BUCKET")},
                            {"access_key_id", env("SLUICE_S3_ACCESS_KEY")},
                            {"secret_access_key", env("SLUICE_S3_SECRET_KEY")}};
  sluice_error *err = o ? NULL : sluice__error_oom();
  for (size_t i = 0; !err && i < sizeof pairs / sizeof pairs[0]; i++)
    err = sluice_options_set(o, pairs[i][0], pairs[i][1]);
  sluice_operator *op = NULL;
  if (!err) err = sluice_operator_new("s3", o, &op);
  sluice_options_free(o);
  if (err) return fail(err);
  sluice__httpreq_req r = {.op = "ListMultipartUploads", .path = argv[1], .method = "GET"};
  sluice__httpreq_query(&r, "uploads", "");
  sluice__httpreq_query(&r, "prefix", argv[1]);
  sluice__s3_uploads_page page = {0};
  err = sluice__s3_perform(op->svc, &r);
  if (!err) err = sluice__s3_xml_list_uploads(r.resp.data ? r.resp.data : "", r.resp.len, &page);
  sluice__httpreq_req_cleanup(&r);
  sluice_operator_free(op);
  if (err) return fail(err);
  size_t plen = strlen(argv[1]);
  for (size_t i = 0; i < page.n; i++)
    if (strncmp(page.uploads[i].key, argv[1], plen) == 0)
      printf("%s %s\n", page.uploads[i].key, page.uploads[i].upload_id);
  int truncated = page.truncated;
  sluice__s3_uploads_page_clear(&page);
  if (truncated) {
    fprintf(stderr, "s3_uploads: more than one page of uploads\n");
    return 2;
  }
  return 0;
}
