/* SPDX-License-Identifier: MIT */
/* sluice: the command-line face of libsluice.  This file reads the command
 * line and dispatches; each command lives in cmd_*.c.  sluice(1)
 * (docs/sluice.1) is the user's documentation and must follow any change
 * to the options, commands or exit statuses here. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: sluice [OPTIONS] COMMAND ARGS...\n"
    "\n"
    "commands:\n"
    "  cp SRC DST        copy an object (or, with -r, a directory/prefix)\n"
    "  sync SRC DST      copy what is missing or different under DST\n"
    "  put DST           copy standard input to an object\n"
    "  cat SRC           copy an object to standard output\n"
    "  ls [-r] URI       list a directory or prefix\n"
    "  stat URI          show an object's metadata\n"
    "  rm [-r] URI       delete an object (with -r, everything under URI)\n"
    "  presign URI       print a presigned URL (s3)\n"
    "  uploads ls URI    list multipart uploads left open under an s3 prefix\n"
    "  uploads abort URI [UPLOAD_ID...]\n"
    "                    abort them (all under URI, or those named)\n"
    "\n"
    "URIs: local paths, file:///path, s3://bucket/key, http(s)://host/path,\n"
    "mem://path, and '-' for standard input or output.\n"
    "\n"
    "options:\n"
    "  -r, --recursive          copy, list or delete a whole directory/prefix\n"
    "      --chunk SIZE         part size (default 8MiB; K, MiB: x1024; KB, MB: x1000)\n"
    "      --concurrent N       parts in flight (default 4)\n"
    "      --queue-depth N      chunks queued between readers and senders (default 4)\n"
    "      --readers N          source threads (default 1; s3/http: --concurrent)\n"
    "      --endpoint URL       S3 endpoint (path-style addressing)\n"
    "      --region REGION      S3 region\n"
    "      --profile NAME       profile in ~/.aws/credentials and ~/.aws/config\n"
    "      --no-sign-request    anonymous S3 requests\n"
    "      --ca-file FILE       trust these CA certificates for https\n"
    "      --retries N          retries per request (default 4)\n"
    "      --content-type TYPE  stored content type\n"
    "      --checksum-algorithm ALG  s3 uploads: auto, crc64nvme, crc32c, crc32, md5,\n"
    "                           sha256, none (default auto)\n"
    "      --verify MODE        downloads: auto (check what the store allows) or\n"
    "                           required (an object that cannot be checked fails)\n"
    "      --if-not-exists      fail rather than replace an existing object\n"
    "      --stream             copy through this machine even within one S3 bucket\n"
    "      --transfers N        -r, sync: objects in flight (default 16)\n"
    "      --memory-limit SIZE  -r, sync: buffer memory for all of them (default 256MiB)\n"
    "      --bwlimit RATE       bytes per second for the whole command (K, M, G)\n"
    "      --include GLOB       -r, sync: only relative paths matching (repeatable)\n"
    "      --exclude GLOB       -r, sync: leave matching paths alone (repeatable)\n"
    "      --delete             sync: delete what only the destination has\n"
    "      --dry-run            -r, sync: report what would be done, change nothing\n"
    "      --size-only          sync: same size means same object\n"
    "      --checksum           sync: compare sizes and checksums (S3 ETags, stored\n"
    "                           CRCs; a local file's are read from its bytes)\n"
    "      --progress=MODE      auto (bar on a terminal), bar, plain, none\n"
    "      --progress-interval S  seconds between plain progress lines (default 5)\n"
    "      --json               print a JSON summary when done\n"
    "      --expires SECONDS    presign: validity (default 3600)\n"
    "      --method METHOD      presign: GET, PUT, HEAD or DELETE (default GET)\n"
    "      --older-than AGE     uploads abort: only uploads started AGE ago or more\n"
    "                           (s, m, h, d, w: 30m, 12h, 7d)\n"
    "      --config FILE        settings file (default ~/.config/sluice/config)\n"
    "  -h, --help               this text\n"
    "  -V, --version            versions of sluice and libsluice\n"
    "\n"
    "See sluice(1) for exit statuses, the config file and examples.\n";

static const struct option long_opts[] = {
    {"recursive", no_argument, NULL, 'r'},
    {"chunk", required_argument, NULL, 0},
    {"concurrent", required_argument, NULL, 0},
    {"queue-depth", required_argument, NULL, 0},
    {"readers", required_argument, NULL, 0},
    {"endpoint", required_argument, NULL, 0},
    {"region", required_argument, NULL, 0},
    {"profile", required_argument, NULL, 0},
    {"no-sign-request", no_argument, NULL, 0},
    {"ca-file", required_argument, NULL, 0},
    {"retries", required_argument, NULL, 0},
    {"content-type", required_argument, NULL, 0},
    {"checksum-algorithm", required_argument, NULL, 0},
    {"verify", required_argument, NULL, 0},
    {"if-not-exists", no_argument, NULL, 0},
    {"stream", no_argument, NULL, 0},
    {"transfers", required_argument, NULL, 0},
    {"memory-limit", required_argument, NULL, 0},
    {"bwlimit", required_argument, NULL, 0},
    {"include", required_argument, NULL, 0},
    {"exclude", required_argument, NULL, 0},
    {"delete", no_argument, NULL, 0},
    {"dry-run", no_argument, NULL, 0},
    {"size-only", no_argument, NULL, 0},
    {"checksum", no_argument, NULL, 0},
    {"progress", optional_argument, NULL, 0},
    {"progress-interval", required_argument, NULL, 0},
    {"json", no_argument, NULL, 0},
    {"expires", required_argument, NULL, 0},
    {"method", required_argument, NULL, 0},
    {"older-than", required_argument, NULL, 0},
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, const char *arg) {
  fputs("sluice: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("; see 'sluice --help'\n", stderr);
  return CLI_USAGE;
}

/* The command line is read twice: first for --config (the file's settings
 * come first, so the command line overrides them), then for real. */
static const char *find_config(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--")) break;
    if (!strcmp(argv[i], "--config") && i + 1 < argc) return argv[i + 1];
    if (!strncmp(argv[i], "--config=", 9)) return argv[i] + 9;
  }
  return NULL;
}

static int run(const char *cmd, int nargs, char **args, const struct cli_settings *s) {
  static const struct {
    const char *name;
    int nargs;
    const char *form;
  } forms[] = {{"cp", 2, "cp SRC DST"},  {"sync", 2, "sync SRC DST"},  {"put", 1, "put DST"},
               {"cat", 1, "cat SRC"},    {"ls", 1, "ls [-r] URI"},     {"stat", 1, "stat URI"},
               {"rm", 1, "rm [-r] URI"}, {"presign", 1, "presign URI"}};
  if (!strcmp(cmd, "uploads")) return cmd_uploads(s, nargs, args);
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    if (strcmp(cmd, forms[i].name)) continue;
    if (nargs != forms[i].nargs) return usage_error("usage: sluice %s", forms[i].form);
    if (!strcmp(cmd, "cp")) return cmd_cp(s, args[0], args[1], "cp");
    if (!strcmp(cmd, "sync")) return cmd_sync(s, args[0], args[1]);
    if (!strcmp(cmd, "put")) return cmd_cp(s, "-", args[0], "put");
    if (!strcmp(cmd, "cat")) return cmd_cp(s, args[0], "-", "cat");
    if (!strcmp(cmd, "ls")) return cmd_ls(s, args[0]);
    if (!strcmp(cmd, "stat")) return cmd_stat(s, args[0]);
    if (!strcmp(cmd, "rm")) return cmd_rm(s, args[0]);
    return cmd_presign(s, args[0]);
  }
  return usage_error("unknown command '%s'", cmd);
}

int main(int argc, char **argv) {
  struct cli_settings s;
  cli_settings_init(&s);
  int rc = cli_config_load(&s, find_config(argc, argv)) ? CLI_CONFIG : CLI_OK;
  int opt, idx;
  opterr = 0; /* our own messages, with the exit status for usage */
  while (!rc && (opt = getopt_long(argc, argv, ":rhV", long_opts, &idx)) != -1) {
    char where[64];
    switch (opt) {
    case 'r': s.recursive = 1; break;
    case 'c': break; /* read above */
    case 'h':
      fputs(usage_text, stdout);
      cli_settings_free(&s);
      return CLI_OK;
    case 'V':
      printf("sluice %s (libsluice %s)\n", PACKAGE_VERSION, sluice_version());
      cli_settings_free(&s);
      return CLI_OK;
    case 0:
      snprintf(where, sizeof where, "--%s", long_opts[idx].name);
      if (!strcmp(long_opts[idx].name, "progress") && !optarg)
        rc = cli_setting_apply(&s, "progress", "bar", where) ? CLI_USAGE : CLI_OK;
      else
        rc = cli_setting_apply(&s, long_opts[idx].name, optarg, where) ? CLI_USAGE : CLI_OK;
      break;
    case ':': rc = usage_error("option '%s' needs a value", argv[optind - 1]); break;
    default: rc = usage_error("unknown option '%s'", argv[optind - 1]); break;
    }
  }
  if (!rc) {
    if (optind >= argc)
      rc = usage_error("%s", "no command given");
    else
      rc = run(argv[optind], argc - optind - 1, argv + optind + 1, &s);
  }
  cli_settings_free(&s);
  return rc;
}
