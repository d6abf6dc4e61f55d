# SPDX-License-Identifier: MIT
# Builds sluice._sluice against the installed libsluice.  Compiler and linker
# flags come from pkg-config (sluice.pc), as for any C program; the
# environment variables SLUICE_CFLAGS and SLUICE_LIBS override it, as
# autoconf's PKG_CHECK_MODULES does, so the test harness can build against
# a library that is built but not installed.
import os
import shlex
import subprocess

from setuptools import Extension, setup


def flags(kind):
    env = os.environ.get("SLUICE_" + kind.upper())
    if env is not None:
        return shlex.split(env)
    try:
        out = subprocess.run(["pkg-config", "--" + kind, "sluice"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit("sluice: libsluice not found through pkg-config "
                         "(install libsluice-dev, or set PKG_CONFIG_PATH to the "
                         "prefix's lib/pkgconfig): %s" % e)
    return shlex.split(out)


def split(args, prefix):
    return [a[len(prefix):] for a in args if a.startswith(prefix)]


cflags, libs = flags("cflags"), flags("libs")
sources = ["module.c", "errors.c", "options.c", "operator.c", "reader.c", "writer.c", "job.c",
           "tree.c", "path.c"]

setup(packages=["sluice"],
      package_data={"sluice": ["py.typed", "*.pyi"]},
      ext_modules=[Extension(
    "sluice._sluice",
    sources=[os.path.join("src", s) for s in sources],
    depends=[os.path.join("src", "sluicemodule.h")],
    include_dirs=split(cflags, "-I"),
    library_dirs=split(libs, "-L"),
    libraries=split(libs, "-l"),
    extra_compile_args=[a for a in cflags if not a.startswith("-I")] + ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
)])
