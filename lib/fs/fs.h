/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the fs service's two files: fs.c (operator, stat,
 * remove, create_dir, sources, sinks) and fs_list.c (the lister).
 *
 * The one rule every function here keeps: a path is only ever resolved
 * *beneath* the root directory fd, so a symlink (or a rename race) can never
 * make the service touch anything outside root.
 */
#ifndef SLUICE_LIB_FS_FS_H
#define SLUICE_LIB_FS_FS_H

#include <sys/stat.h>
#include <sys/types.h>

#include "service.h"

typedef struct sluice__fs {
  int rootfd;      /* O_PATH|O_DIRECTORY, held for the service's life */
  int use_openat2; /* 0: the kernel (or a seccomp filter) refuses it */
  int fsync;       /* option fsync: fsync file and directory on commit */
  int direct_io;   /* option direct_io: large known-size writes use O_DIRECT */
  char *root;      /* as configured, for messages */
  char *root_real; /* realpath(root): only the no-openat2 fallback uses it */
} sluice__fs;

/* Opens rel (a normalised service path; "" is the root itself) beneath the
 * root with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), following
 * symlinks only while they stay beneath root.  O_CLOEXEC is always added.
 * Returns the fd, or -errno: -EXDEV means the path escapes the root. */
int sluice__fs_open_beneath(const sluice__fs *fs, const char *rel, int flags, mode_t mode);

/* Opens the directory holding path's last component beneath root (as an
 * O_PATH dirfd, usable with the *at() calls) and sets *base to a malloc'd
 * copy of that component without any trailing '/'.  path must not be "".
 * Returns the fd or -errno (-ENOMEM included); *base is NULL on failure. */
int sluice__fs_open_parent(const sluice__fs *fs, const char *path, char **base);

/* The error for errno value err from operation op on path: EXDEV becomes
 * permission denied ("path escapes root"), ENOTDIR (a component is a file)
 * becomes not found, anything else goes through sluice__error_errno().
 * path is relative to fs's root, or with fs NULL already shown (below). */
sluice_error *sluice__fs_error(const sluice__fs *fs, const char *op, const char *path, int err);

/* path (the first len bytes; SIZE_MAX: all of it) as the user named it:
 * joined to the root, so that an operator rooted at "/" shows "/tmp/x",
 * not "tmp/x".  With fs NULL, path is already shown that way.  Messages
 * name paths only like this.  Malloc'd; NULL when out of memory. */
char *sluice__fs_shown(const sluice__fs *fs, const char *path, size_t len);

/* "fs: OP 'PATH': why", PATH shown as the user named it (above). */
sluice_error *sluice__fs_fail(const sluice__fs *fs, sluice_errkind kind, const char *op,
                              const char *path, const char *why);

/* Opens dir (a directory path: "" or ending in '/') beneath root as an
 * O_PATH fd, creating missing components like mkdir -p (each made durable
 * when the fsync option is on).  Returns the fd, or -1 with *err saying
 * which component failed, for operation op on path. */
int sluice__fs_mkdirs(const sluice__fs *fs, const char *op, const char *path, const char *dir,
                      sluice_error **err);

/* fsync of a directory (an O_PATH fd is fine): makes a rename or mkdir in
 * it durable.  0 or an errno value. */
int sluice__fs_fsync_dir(int dirfd);

/* 1 when path ends in '/' (names a directory). */
int sluice__fs_trailing_slash(const char *path);

/* size / is_dir / mtime from st.  Leaves etag and content_type alone:
 * the fs service never has them. */
void sluice__fs_fill_meta(const struct stat *st, sluice_metadata *m);

/* 1 when name has the shape of a sink's temporary file
 * (".<name>.sluice-XXXXXX"): listings hide writes still in progress (or
 * left behind by a crash), as an object store hides unfinished uploads. */
int sluice__fs_is_temp_name(const char *name);

/* The service's open_sink() (fs_sink.c). */
sluice_error *sluice__fs_open_sink(void *svc, const char *path, const sluice__write_params *p,
                                   sluice__sink **out);

/* The service's list() (fs_list.c). */
sluice_error *sluice__fs_list(void *svc, const char *dir, int recursive, sluice__list **out);

/* The service's rename() (fs_rename.c): rename(2), atomic. */
sluice_error *sluice__fs_rename(void *svc, const char *src, const char *dst);

/* The service's remove_all() (fs_remove_all.c): rm -rf of dir ("a/b/")
 * that never follows a symlink. */
sluice_error *sluice__fs_remove_all(void *svc, const char *dir);

/* Test hook: when non-zero, services opened afterwards resolve paths with
 * the realpath() fallback instead of openat2, so tests can cover the path
 * taken on kernels older than 5.6.  Never set by the library itself. */
extern int sluice__fs_force_fallback;

#endif
