/* SPDX-License-Identifier: MIT */
/* create_dir on S3: a zero-byte object whose key ends in '/', the folder
 * marker the S3 console's "Create folder" and OpenDAL make.  Only the
 * marker of the path given is written: S3 has no parents to create, a
 * prefix exists as soon as a key starts with it.  Listings already treat
 * such keys as the directories they stand for (lib/s3/s3.c). */
#include <stdlib.h>

#include "error.h"
#include "s3/s3.h"

sluice_error *sluice__s3_create_dir(void *svc, const char *path) {
  sluice__s3 *s3 = svc;
  char *key = sluice__s3_key(s3, path);
  if (!key) return sluice__error_oom();
  sluice__httpreq_req r = {.op = "PutObject", .path = path, .method = "PUT", .key = key};
  sluice_error *err = sluice__s3_perform(s3, &r);
  sluice__httpreq_req_cleanup(&r);
  free(key);
  return err;
}
