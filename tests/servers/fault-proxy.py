#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fault-injecting TCP proxy for libsluice's fault tests (standard library only).

Listens on 127.0.0.1 (a free port unless --listen-port) and forwards every
connection to --target HOST:PORT, which must be a loopback address (anything
else is refused).  One thread per connection; requests on a connection are
tracked by a small HTTP/1.1 parser (request heads, Content-Length and chunked
bodies), which falls back to plain byte forwarding if the stream is not HTTP.

Faults (each kind keeps its own count; --skip S lets the first S eligible
events pass, --times K then injects the fault K times, default: every time):
  --http-status CODE   answer the request itself with CODE and an S3-style XML
                       error body (503 SlowDown, 500 InternalError, ...;
                       --error-code/--error-message override), "Connection:
                       close", without forwarding anything upstream; one
                       event per HTTP request.
  --delay-ms N         hold each request N ms before forwarding it; one event
                       per HTTP request.
  --reset-after-bytes N  after N bytes of the connection have been forwarded
                       (--direction up: client to server, the default;
                       down: server to client), abort the client connection
                       with a TCP RST (and the upstream one); one event per
                       connection that reaches N bytes.
  --stall-after-bytes N  same trigger, but stop forwarding in both directions
                       and keep the connections open (to exercise low-speed
                       timeouts) until the client closes or the proxy exits.
  --freeze-after-bytes N  same trigger, and from then on the whole server
                       seems frozen: every connection, open or new, is
                       accepted and held without forwarding or answering
                       anything (a process stopped with SIGSTOP, a dead
                       host behind a live load balancer).  0: frozen from
                       the start.
  --match REGEX        only requests whose request line ("PUT /b/k?x HTTP/1.1")
                       matches are eligible (for the byte faults: the request
                       in flight when the threshold is crossed).
The proxy exits by itself after --max-seconds (default 600), on SIGTERM or
SIGINT.  stdout stays silent unless --verbose; --log FILE records the same
event lines (connections, requests, faults) for tests to check.

Example: fault-proxy.py --target 127.0.0.1:9010 --port-file /tmp/p \\
             --http-status 503 --times 2 --max-seconds 60 &
"""
import argparse
import http
import ipaddress
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time

ERRORS = {
    400: ('BadRequest', 'Bad Request'),
    403: ('AccessDenied', 'Access Denied'),
    404: ('NoSuchKey', 'The specified key does not exist.'),
    408: ('RequestTimeout', 'Your socket connection to the server was not read '
          'from or written to within the timeout period.'),
    409: ('OperationAborted', 'A conflicting conditional operation is currently '
          'in progress against this resource.'),
    412: ('PreconditionFailed', 'At least one of the preconditions you specified '
          'did not hold.'),
    429: ('SlowDown', 'Please reduce your request rate.'),
    500: ('InternalError', 'We encountered an internal error. Please try again.'),
    501: ('NotImplemented', 'A header you provided implies functionality that '
          'is not implemented.'),
    502: ('BadGateway', 'Bad Gateway'),
    503: ('SlowDown', 'Please reduce your request rate.'),
    504: ('GatewayTimeout', 'Gateway Timeout'),
}

BUF = 256 * 1024
TCP_ESTABLISHED = 1
MAX_HEAD = 64 * 1024


class Budget:
    """--skip S then --times K (None = unlimited), thread-safe"""

    def __init__(self, skip, times):
        self.skip, self.times, self.seen, self.fired = skip, times, 0, 0
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            self.seen += 1
            if self.seen <= self.skip:
                return 0
            if self.times is not None and self.fired >= self.times:
                return 0
            self.fired += 1
            return self.fired


class Log:
    def __init__(self, verbose, path):
        self.verbose = verbose
        self.f = open(path, 'a', buffering=1) if path else None
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def __call__(self, msg):
        if not (self.verbose or self.f):
            return
        line = '[%8.3f] %s\n' % (time.monotonic() - self.t0, msg)
        with self.lock:
            if self.verbose:
                sys.stdout.write(line)
                sys.stdout.flush()
            if self.f:
                self.f.write(line)


class RequestParser:
    """Splits the client->server byte stream into ('head', bytes, line) and
    ('data', bytes) events.  On anything that is not HTTP/1.x it turns raw."""

    def __init__(self):
        self.state = 'head'
        self.buf = b''
        self.remaining = 0
        self.raw = False

    def _go_raw(self, out):
        self.raw = True
        if self.buf:
            out.append(('data', self.buf, None))
            self.buf = b''

    def _parse_head(self, head):
        lines = head.split(b'\r\n')
        line = lines[0].decode('latin-1')
        parts = line.split(' ')
        if len(parts) != 3 or not parts[2].startswith('HTTP/1.'):
            return None
        cl, chunked = 0, False
        for h in lines[1:]:
            name, _, value = h.partition(b':')
            name = name.strip().lower()
            if name == b'content-length':
                try:
                    cl = int(value.strip())
                except ValueError:
                    return None
            elif name == b'transfer-encoding' and b'chunked' in value.lower():
                chunked = True
        return line, cl, chunked

    def feed(self, data):
        out = []
        if self.raw:
            out.append(('data', data, None))
            return out
        self.buf += data
        while self.buf and not self.raw:
            if self.state == 'head':
                if self.buf.startswith(b'\r\n'):       # stray CRLF between requests
                    out.append(('data', self.buf[:2], None))
                    self.buf = self.buf[2:]
                    continue
                i = self.buf.find(b'\r\n\r\n')
                if i < 0:
                    if len(self.buf) > MAX_HEAD:
                        self._go_raw(out)
                    break
                head, self.buf = self.buf[:i + 4], self.buf[i + 4:]
                parsed = self._parse_head(head[:-4])
                if parsed is None:
                    self.buf = head + self.buf
                    self._go_raw(out)
                    break
                line, cl, chunked = parsed
                out.append(('head', head, line))
                if chunked:
                    self.state = 'chunk-size'
                elif cl > 0:
                    self.state, self.remaining = 'body', cl
            elif self.state in ('body', 'chunk-data'):
                n = min(self.remaining, len(self.buf))
                out.append(('data', self.buf[:n], None))
                self.buf, self.remaining = self.buf[n:], self.remaining - n
                if self.remaining == 0:
                    self.state = 'chunk-size' if self.state == 'chunk-data' else 'head'
            elif self.state in ('chunk-size', 'trailer'):
                i = self.buf.find(b'\r\n')
                if i < 0:
                    if len(self.buf) > MAX_HEAD:
                        self._go_raw(out)
                    break
                line, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                out.append(('data', line, None))
                if self.state == 'trailer':
                    if line == b'\r\n':
                        self.state = 'head'
                    continue
                try:
                    size = int(line.split(b';')[0].strip(), 16)
                except ValueError:
                    self._go_raw(out)
                    break
                if size == 0:
                    self.state = 'trailer'
                else:
                    self.state, self.remaining = 'chunk-data', size + 2  # + CRLF
        return out


class Proxy:
    def __init__(self, a, target, log):
        self.a = a
        self.target = target
        self.log = log
        self.match = re.compile(a.match) if a.match else None
        self.status_budget = Budget(a.skip, a.times)
        self.delay_budget = Budget(a.skip, a.times)
        self.bytes_budget = Budget(a.skip, a.times)
        self.ids = 0
        self.lock = threading.Lock()
        # --freeze-after-bytes fired (or is 0): no connection moves any more
        self.frozen = threading.Event()
        if a.freeze_after_bytes == 0:
            self.frozen.set()

    def matches(self, line):
        return self.match is None or (line is not None and self.match.search(line))

    def error_response(self, line, cid):
        code = self.a.http_status
        s3code, msg = ERRORS.get(code, ('InternalError', 'Injected fault.'))
        s3code = self.a.error_code or s3code
        msg = self.a.error_message or msg
        method, target = (line.split(' ') + ['', ''])[:2]
        rid = 'FAULTPROXY%08d' % cid
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                '<Message>%s</Message><Resource>%s</Resource><RequestId>%s'
                '</RequestId></Error>' % (s3code, msg, target.split('?')[0], rid)).encode()
        if method == 'HEAD':
            body = b''
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = 'Error'
        head = ('HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n'
                'Content-Length: %d\r\nx-amz-request-id: %s\r\n'
                'Date: %s\r\nConnection: close\r\n\r\n'
                % (code, phrase, len(body), rid,
                   time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())))
        return head.encode() + body

    def serve(self, client, peer):
        with self.lock:
            self.ids += 1
            cid = self.ids
        self.log('conn %d: accepted from %s:%d' % (cid, peer[0], peer[1]))
        try:
            Connection(self, client, cid).run()
        except Exception as e:       # never let one connection kill the proxy
            self.log('conn %d: error %r' % (cid, e))
        finally:
            try:
                client.close()
            except OSError:
                pass


class Connection:
    def __init__(self, proxy, client, cid):
        self.p, self.a, self.log = proxy, proxy.a, proxy.log
        self.client, self.cid = client, cid
        self.up = None
        self.parser = RequestParser()
        self.to_up = bytearray()
        self.to_client = bytearray()
        self.sent_up = self.sent_down = 0
        self.client_eof = self.up_eof = False
        self.up_shut = self.client_shut = False
        self.hold_until = 0.0
        self.current = None              # request line in flight
        self.byte_fault_checked = False
        self.stalled = False
        self.closing = False             # our own answer queued: flush, drain, close
        client.setblocking(False)

    # -- helpers -------------------------------------------------------------
    def connect_up(self):
        if self.up is not None:
            return True
        try:
            s = socket.create_connection(self.p.target, timeout=10)
        except OSError as e:
            self.log('conn %d: upstream connect failed: %s' % (self.cid, e))
            self.abort()
            return False
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.up = s
        return True

    def abort(self):
        """close both sides with RST"""
        for s in (self.client, self.up):
            if s is None:
                continue
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                s.close()
            except OSError:
                pass
        self.done = True

    def byte_limit(self):
        a = self.a
        n = a.reset_after_bytes
        for v in (a.stall_after_bytes, a.freeze_after_bytes):
            if n is None:
                n = v
        return None if n is None or self.byte_fault_checked else n

    def byte_fault(self, direction_sent):
        """threshold reached: decide and fire"""
        self.byte_fault_checked = True
        a = self.a
        if not self.p.matches(self.current):
            return
        k = self.p.bytes_budget.take()
        if not k:
            return
        kind = ('reset' if a.reset_after_bytes is not None
                else 'stall' if a.stall_after_bytes is not None else 'freeze')
        self.log('conn %d: FAULT %s after %d bytes %s (%d/%s) during "%s"'
                 % (self.cid, kind, direction_sent, a.direction, k,
                    a.times if a.times is not None else 'inf', self.current))
        if kind == 'reset':
            self.abort()
        else:
            if kind == 'freeze':
                self.p.frozen.set()
            self.stalled = True

    # -- main loop -----------------------------------------------------------
    def on_client_data(self, data):
        for kind, chunk, line in self.parser.feed(data):
            if kind == 'head':
                self.current = line
                self.log('conn %d: request "%s"' % (self.cid, line))
                eligible = self.p.matches(line)
                if eligible and self.a.delay_ms and self.p.delay_budget.take():
                    self.hold_until = max(self.hold_until,
                                          time.monotonic() + self.a.delay_ms / 1000.0)
                    self.log('conn %d: FAULT delay %d ms' % (self.cid, self.a.delay_ms))
                if eligible and self.a.http_status:
                    k = self.p.status_budget.take()
                    if k:
                        self.log('conn %d: FAULT http-status %d (%d/%s) for "%s"'
                                 % (self.cid, self.a.http_status, k,
                                    self.a.times if self.a.times is not None else 'inf', line))
                        self.answer_ourselves(line)
                        return
            self.to_up += chunk

    def answer_ourselves(self, line):
        self.closing = True
        self.to_up.clear()
        if self.up is not None:
            try:
                self.up.close()
            except OSError:
                pass
            self.up = None
        self.to_client += self.p.error_response(line, self.cid)

    def run(self):
        self.done = False
        drain_deadline = None
        while not self.done:
            now = time.monotonic()
            if now > self.p.deadline:
                self.abort()
                break
            if self.p.frozen.is_set() and not self.stalled:
                self.log('conn %d: frozen: held without an answer' % self.cid)
                self.stalled = True
            if self.stalled:
                self.stall_wait()
                break
            if self.closing and not self.to_client:
                # answer sent: FIN, then read and drop what the client still
                # sends (a body) so that closing does not turn into an RST
                if not self.client_shut:
                    try:
                        self.client.shutdown(socket.SHUT_WR)
                    except OSError:
                        break
                    self.client_shut = True
                    drain_deadline = now + 5
                if self.client_eof or now > drain_deadline:
                    break
            rl, wl = [], []
            if not self.client_eof and len(self.to_up) < BUF * 4:
                rl.append(self.client)
            if self.up is not None and not self.up_eof and not self.closing \
                    and len(self.to_client) < BUF * 4:
                rl.append(self.up)
            if self.to_up and not self.closing and now >= self.hold_until:
                if self.up is None and not self.connect_up():
                    break
                wl.append(self.up)
            if self.to_client:
                wl.append(self.client)
            timeout = 0.5
            if self.to_up and now < self.hold_until:
                timeout = min(timeout, self.hold_until - now)
            if not rl and not wl:
                if self.up_eof and self.client_eof and not self.to_up and not self.to_client:
                    break
                if (self.up is None or self.up_eof) and self.client_eof and not self.to_up:
                    break
                time.sleep(timeout)
                continue
            try:
                r, w, _ = select.select(rl, wl, [], timeout)
            except (OSError, ValueError):
                break
            if self.client in r:
                try:
                    data = self.client.recv(BUF)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b''
                if data == b'':
                    self.client_eof = True
                elif data:
                    if self.closing:
                        pass                      # draining
                    else:
                        self.on_client_data(data)
            if self.up is not None and self.up in r and not self.done:
                try:
                    data = self.up.recv(BUF)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b''
                if data == b'':
                    self.up_eof = True
                elif data:
                    self.to_client += data
            if self.done:
                break
            if self.up is not None and self.up in w and self.to_up:
                self.send_up()
            if self.done or self.stalled:
                continue
            if self.client in w and self.to_client:
                self.send_client()
            if self.done:
                break
            # half-closes
            if self.client_eof and not self.to_up and self.up is not None and not self.up_shut:
                try:
                    self.up.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self.up_shut = True
            if self.up_eof and not self.to_client and not self.client_shut and not self.closing:
                try:
                    self.client.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self.client_shut = True
            if self.client_shut and self.up_shut and self.client_eof and self.up_eof:
                break
            if self.client_eof and self.up is None and not self.to_up:
                break
        if not self.done:
            for s in (self.up, self.client):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
        self.log('conn %d: closed (%d bytes up, %d down)' % (self.cid, self.sent_up, self.sent_down))

    def send_up(self):
        data = self.to_up
        limit = self.byte_limit() if self.a.direction == 'up' else None
        n = len(data)
        if limit is not None:
            n = min(n, limit - self.sent_up)
        if n > 0:
            try:
                n = self.up.send(data[:n])
            except BlockingIOError:
                n = 0
            except OSError as e:
                # the server went away mid-request (e.g. answered early and
                # closed): pass on what it said, then close the client side
                self.log('conn %d: upstream send failed: %s' % (self.cid, e))
                self.to_up.clear()
                while True:
                    try:
                        d = self.up.recv(BUF)
                    except OSError:
                        break
                    if not d:
                        break
                    self.to_client += d
                self.up_eof = True
                self.closing = True
                return
            del data[:n]
            self.sent_up += n
        if limit is not None and self.sent_up >= limit:
            self.byte_fault(self.sent_up)

    def send_client(self):
        data = self.to_client
        limit = None
        if self.a.direction == 'down' and not self.closing:
            limit = self.byte_limit()
        n = len(data)
        if limit is not None:
            n = min(n, limit - self.sent_down)
        if n > 0:
            try:
                n = self.client.send(data[:n])
            except BlockingIOError:
                n = 0
            except OSError:
                self.abort()
                return
            del data[:n]
            self.sent_down += n
        if limit is not None and self.sent_down >= limit:
            self.byte_fault(self.sent_down)

    def stall_wait(self):
        """forward nothing; end when the client closes or the proxy exits"""
        while time.monotonic() < self.p.deadline:
            time.sleep(0.25)
            # the client's FIN or RST shows in the TCP state even while its
            # unread data still sits in our receive buffer
            try:
                info = self.client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
            except OSError:
                break
            if info[0] != TCP_ESTABLISHED:
                break
        self.log('conn %d: stalled connection ends' % self.cid)
        self.abort()


def loopback_target(spec):
    m = re.fullmatch(r'\[?([^\]]*?)\]?:(\d+)', spec)
    if not m:
        sys.exit('fault-proxy: --target must be HOST:PORT')
    host, port = m.group(1), int(m.group(2))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        sys.exit('fault-proxy: cannot resolve %s: %s' % (host, e))
    addrs = [i[4][0] for i in infos]
    bad = [x for x in addrs if not ipaddress.ip_address(x.split('%')[0]).is_loopback]
    if bad or not addrs:
        sys.exit('fault-proxy: refusing non-loopback target %s (%s)' % (spec, ', '.join(bad)))
    return addrs[0], port


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=__doc__[__doc__.index('Faults'):],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--target', required=True, help='HOST:PORT on loopback')
    ap.add_argument('--listen-port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--http-status', type=int)
    ap.add_argument('--error-code')
    ap.add_argument('--error-message')
    ap.add_argument('--delay-ms', type=int, default=0)
    ap.add_argument('--reset-after-bytes', type=int)
    ap.add_argument('--stall-after-bytes', type=int)
    ap.add_argument('--freeze-after-bytes', type=int)
    ap.add_argument('--direction', choices=('up', 'down'), default='up')
    ap.add_argument('--match')
    ap.add_argument('--times', type=int)
    ap.add_argument('--skip', type=int, default=0)
    ap.add_argument('--max-seconds', type=float, default=600)
    ap.add_argument('--verbose', action='store_true')
    ap.add_argument('--log')
    a = ap.parse_args()
    if sum(v is not None for v in (a.reset_after_bytes, a.stall_after_bytes,
                                   a.freeze_after_bytes)) > 1:
        ap.error('--reset-after-bytes, --stall-after-bytes and --freeze-after-bytes '
                 'are exclusive')
    for name in ('reset_after_bytes', 'stall_after_bytes', 'freeze_after_bytes'):
        v = getattr(a, name)
        if v is not None and v < 0:
            ap.error('--%s must be >= 0' % name.replace('_', '-'))
    if a.http_status is not None and not 100 <= a.http_status <= 599:
        ap.error('--http-status must be an HTTP status code')
    target = loopback_target(a.target)
    log = Log(a.verbose, a.log)
    proxy = Proxy(a, target, log)
    proxy.deadline = time.monotonic() + a.max_seconds

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', a.listen_port))
    ls.listen(128)
    port = ls.getsockname()[1]
    if a.port_file:
        with open(a.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % port)
        os.rename(a.port_file + '.tmp', a.port_file)
    log('listening on 127.0.0.1:%d -> %s:%d (pid %d, max %g s)'
        % (port, target[0], target[1], os.getpid(), a.max_seconds))

    def stop(*_):
        proxy.deadline = time.monotonic()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ls.settimeout(0.2)
    while time.monotonic() < proxy.deadline:
        try:
            c, peer = ls.accept()
        except socket.timeout:
            continue
        except OSError:
            continue
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=proxy.serve, args=(c, peer), daemon=True).start()
    ls.close()
    log('exiting (status faults %d, delays %d, byte faults %d)'
        % (proxy.status_budget.fired, proxy.delay_budget.fired, proxy.bytes_budget.fired))
    if a.port_file:
        try:
            os.unlink(a.port_file)
        except OSError:
            pass
    sys.stdout.flush()
    os._exit(0)


if __name__ == '__main__':
    main()
