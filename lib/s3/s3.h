/* Internals shared by the s3 service's files. */
#ifndef SLUICE_LIB_S3_S3_H
#define SLUICE_LIB_S3_S3_H

#include "s3/http.h"
#include "service.h"

extern const sluice__service_vt sluice__s3_service;

/* The object key for a normalised path: root prefix + path (malloc'd). */
char *sluice__s3_key(const sluice__s3 *s3, const char *path);
/* HeadObject into out. */
sluice_error *sluice__s3_head(sluice__s3 *s3, const char *path, sluice_metadata *out);
void sluice__s3_close(void *svc);

/* lib/s3/source.c: HeadObject, then sluice__s3_source_new(). */
sluice_error *sluice__s3_open_source(void *svc, const char *path, uint64_t offset,
                                     uint64_t length, sluice__source **out);
/* A source over bytes [offset, offset+length) of the object at path, read
 * with ranged GETs (named get_op in messages: "GetObject", "GET"; static
 * storage) pinned to the version meta describes (meta->size, etag, mtime
 * from the caller's HEAD; only read here).  Errors: range not satisfiable
 * when offset is past the end of a non-empty object. */
sluice_error *sluice__s3_source_new(sluice__s3 *s3, const char *path, const sluice_metadata *meta,
                                    uint64_t offset, uint64_t length, const char *get_op,
                                    sluice__source **out);
/* lib/s3/multipart.c */
sluice_error *sluice__s3_open_sink(void *svc, const char *path, const sluice__write_params *p,
                                   sluice__sink **out);

#endif
