# SPDX-License-Identifier: MIT
# Builds sluice._sluice against the installed libsluice.  Compiler and linker
# flags come from pkg-config (sluice.pc), as for any C program; the
# environment variables SLUICE_CFLAGS and SLUICE_LIBS override it, as
# autoconf's PKG_CHECK_MODULES does, so the test harness can build against
# a library that is built but not installed.
#
# A library installed under a prefix of one's own (./configure
# --prefix=$HOME/opt) is found at run time too: the extension gets an rpath
# to pkg-config's libdir when that is not one of the dynamic linker's own
# directories, so `import sluice` needs no LD_LIBRARY_PATH.  Never with
# SLUICE_LIBS (a build tree, as debian/rules uses, must not end up in the
# installed module) nor for a system libdir (Debian's packages have none).
import os
import shlex
import subprocess
import sysconfig

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


def rpath():
    if os.environ.get("SLUICE_LIBS") is not None:
        return []
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "sluice"], check=True,
                            capture_output=True, text=True).stdout.strip()
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    system = {"/lib", "/usr/lib", "/lib64", "/usr/lib64"}
    system |= {d + "/" + multiarch for d in ("/lib", "/usr/lib") if multiarch}
    if not libdir or os.path.normpath(libdir) in system:
        return []
    return [libdir]


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
    runtime_library_dirs=rpath(),
    extra_compile_args=[a for a in cflags if not a.startswith("-I")] + ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
)])
