#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Per-instance supervisor for the test servers (python3 standard library).

usage: supervise.py --state DIR [--ttl S] [--owner PID] [--stop PROG]
                    [--log-sink FILE] -- CMD [ARG...]

Runs CMD (the server script's private "_start" step) and exits with its
status, so the caller sees CMD's stdout and exit code.  Behind that it
leaves one detached process (its own session, pid recorded in
DIR/run/supervisor.pid) that

  * is a child subreaper (prctl PR_SET_CHILD_SUBREAPER): the servers CMD
    starts in the background become its children when CMD exits, and it
    reaps them as soon as they are stopped.  Without this they would be
    orphaned to pid 1, which in containers is often no real init: on this
    project's CI machine kind it reaps orphans only a second or so later,
    and some never do, so stopped servers would linger as zombies;
  * optionally hosts a syslog sink for the servers (--log-sink FILE): UDP on
    127.0.0.1 and a kernel-chosen port, written to DIR/run/log.addr as
    "udp:PORT" (swift's servers log there with log_udp_host/log_udp_port,
    which its proxy-logging access logger inherits too; with no log host at
    all they would fall back to /dev/log or send to 127.0.0.1:514);
  * is the safety net: once --ttl seconds have passed (0 = never) or the
    process --owner is gone, it runs "PROG stop DIR" (after removing its own
    pid file, so that stop leaves it alone);
  * exits by itself as soon as it has no child left (everything stopped).
    SIGTERM makes it exit at once.
"""
import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36


def proc_start(pid):
    """start time of pid (clock ticks), None if gone or a zombie"""
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(')') + 2:].split()
    if fields[0] == 'Z':
        return None
    return fields[19]


def write_atomic(path, text):
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.rename(path + '.tmp', path)


def log_sink(run, out_path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    addr = 'udp:%d' % s.getsockname()[1]
    out = open(out_path, 'ab', buffering=0)
    write_atomic(os.path.join(run, 'log.addr'), addr + '\n')

    def loop():
        while True:
            try:
                d = s.recv(65536)
                out.write(d.rstrip(b'\0') + b'\n')
            except OSError:
                time.sleep(0.1)
    threading.Thread(target=loop, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--state', required=True)
    ap.add_argument('--ttl', type=int, default=3600)
    ap.add_argument('--owner', type=int, default=0)
    ap.add_argument('--stop')
    ap.add_argument('--log-sink')
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ['--'] else a.cmd
    if not cmd:
        ap.error('no command')
    run = os.path.join(a.state, 'run')
    logdir = os.path.join(a.state, 'log')
    os.makedirs(run, exist_ok=True)
    os.makedirs(logdir, exist_ok=True)

    # SIGUSR1 (from the foreground, see below) = abort the start: SIGTERM CMD
    state = {'child': None, 'aborted': False}

    def abort_start(*_):
        state['aborted'] = True
        if state['child'] is not None and state['child'].poll() is None:
            state['child'].terminate()
    signal.signal(signal.SIGUSR1, abort_start)

    r, w = os.pipe()
    daemon = os.fork()
    if daemon:
        # foreground: wait for CMD's status, exit with it.  If the caller is
        # interrupted meanwhile, CMD is told to stop and clean up (the daemon
        # is in its own session and would not see the terminal's SIGINT)
        def forward(*_):
            try:
                os.kill(daemon, signal.SIGUSR1)
            except OSError:
                pass
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, forward)
        os.close(w)
        data = b''
        while True:
            chunk = os.read(r, 64)
            if not chunk:
                break
            data += chunk
        try:
            sys.exit(int(data))
        except ValueError:
            sys.exit(1)

    os.close(r)
    # keep none of the caller's other descriptors (a pipe someone waits on)
    maxfd = os.sysconf('SC_OPEN_MAX')
    os.closerange(3, w)
    os.closerange(w + 1, maxfd if maxfd > 0 else 65536)
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print('supervise: prctl(PR_SET_CHILD_SUBREAPER) failed', file=sys.stderr)
    pidfile = os.path.join(run, 'supervisor.pid')
    write_atomic(pidfile, '%d %s\n' % (os.getpid(), proc_start(os.getpid())))
    if a.log_sink:
        log_sink(run, a.log_sink)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    child = subprocess.Popen(cmd)   # inherits the caller's stdin/stdout/stderr
    state['child'] = child
    if state['aborted']:
        abort_start()
    # let go of the caller's stdio, or "$(... start)" would never return
    devnull = os.open('/dev/null', os.O_RDWR)
    logfd = os.open(os.path.join(logdir, 'supervisor.log'),
                    os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(devnull, 0)
    os.dup2(logfd, 1)
    os.dup2(logfd, 2)
    os.close(devnull)
    os.close(logfd)
    rc = child.wait()
    if rc < 0:
        rc = 128 - rc
    os.write(w, str(rc).encode())
    os.close(w)

    t0 = time.monotonic()
    stopping = False
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            break                       # nothing left to supervise
        if not stopping:
            why = None
            if a.ttl > 0 and time.monotonic() - t0 > a.ttl:
                why = 'ttl of %d s reached' % a.ttl
            elif a.owner and proc_start(a.owner) is None:
                why = 'owner process %d is gone' % a.owner
            if why and not os.path.isdir(a.state):
                break
            if why:
                stopping = True
                print('supervise: %s; stopping %s' % (why, a.state), flush=True)
                try:
                    os.unlink(pidfile)
                except OSError:
                    pass
                if a.stop:
                    subprocess.Popen([a.stop, 'stop', a.state])
                else:
                    break
        time.sleep(0.2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
