/* SPDX-License-Identifier: MIT */
/* rename on the fs service: rename(2) of the file into place, parents of
 * the target made as a write makes them.  Atomic as rename(2) is: the
 * target is the old file or the new one, never a mix, and the source is
 * gone in the same step.  Only files: a directory is refused, as the
 * other services (which have no directories to move) would. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fs/fs.h"
#include "path.h"

sluice_error *sluice__fs_rename(void *svc, const char *src, const char *dst) {
  sluice__fs *fs = svc;
  sluice_error *err = sluice__path_file_rules("fs: rename", src);
  if (!err) err = sluice__path_file_rules("fs: rename", dst);
  if (err) return err;
  char *sbase = NULL, *dbase = NULL, *ddir = NULL;
  int sfd = sluice__fs_open_parent(fs, src, &sbase), dfd = -1;
  struct stat st;
  if (sfd < 0) return sluice__fs_error(fs, "rename", src, -sfd);
  if (fstatat(sfd, sbase, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    err = sluice__fs_error(fs, "rename", src, errno);
  } else if (S_ISDIR(st.st_mode)) {
    err = sluice__fs_fail(fs, SLUICE_ERR_IS_A_DIRECTORY, "rename", src,
                          "is a directory (rename moves files only)");
  } else {
    const char *slash = strrchr(dst, '/');
    ddir = strndup(dst, slash ? (size_t)(slash - dst + 1) : 0); /* "" or "a/b/" */
    if (!ddir) err = sluice__error_oom();
  }
  if (!err && (dfd = sluice__fs_mkdirs(fs, "rename", dst, ddir, &err)) >= 0) {
    dbase = strdup(strrchr(dst, '/') ? strrchr(dst, '/') + 1 : dst);
    int e = !dbase ? ENOMEM : renameat(sfd, sbase, dfd, dbase) != 0 ? errno : 0;
    /* Durable when asked: both directory entries changed. */
    if (!e && fs->fsync && (e = sluice__fs_fsync_dir(dfd)) == 0) e = sluice__fs_fsync_dir(sfd);
    if (e == EISDIR || e == ENOTEMPTY || e == EEXIST)
      err = sluice__error_set_errno(sluice__fs_fail(fs, SLUICE_ERR_IS_A_DIRECTORY, "rename", dst,
                                                    "a directory is in the way"),
                                    e);
    else if (e)
      err = sluice__fs_error(fs, "rename", src, e);
  }
  if (dfd >= 0) close(dfd);
  close(sfd);
  free(sbase);
  free(dbase);
  free(ddir);
  return err;
}
