#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A hostile S3 endpoint for libsluice's listing tests (standard library only).

Serves path-style ListObjectsV2 (EncodingType url, one page), HEAD and GET
(with Range) of a fixed set of buckets, each a listing a broken or hostile
server could send.  No signature is checked.  Listens on 127.0.0.1 (a free
port, written to --port-file), logs one line per request to --log (method,
then the raw path, so tests can check what was asked: a DELETE or PUT of
a key nobody asked for), and exits after --max-seconds (default 600) or on
SIGTERM/SIGINT.

Buckets (keys as bytes; the listing's order is the bucket's order, as is):
  outside    keys outside the prefix "sub/" asked for ("ok.txt", "zzz/x")
             around one key inside it
  names      keys a file tree cannot hold as given or that carry terminal
             controls: "..", "//", ".", C0 (ESC, newline, CR, tab, 0x01),
             DEL, C1 (U+009B, the 8-bit CSI; in a file's name and in a
             directory's), invalid UTF-8, a 4 KiB key,
             beside plain ones, in byte order
  lead       a key with a leading '/' beside a plain one (for a listing of
             the whole bucket)
  repeat     a key listed twice
  backwards  keys in descending order
  nul        a key with an encoded NUL byte
  dst        what a sync's destination lists: a key inside the prefix
             "sub/" and keys outside it ("ok.txt", "zzz")
Every object's body is b"body of " + its key; PUT and DELETE answer 200/204
and change nothing.
"""
import argparse
import email.utils
import hashlib
import http.server
import os
import signal
import sys
import threading
import urllib.parse

ESC, CSI8 = b'\x1b', b'\xc2\x9b'
BUCKETS = {
    'outside': [b'ok.txt', b'sub/good.txt', b'zzz/x'],
    'names': sorted([
        b'plain.txt',
        b'dir/plain2.txt',
        b'../escape.txt',
        b'dir/../../escape2.txt',
        b'a//double.txt',
        b'./dot.txt',
        b'esc' + ESC + b'[31mred.txt',
        b'nl\nforged.txt: injected line',
        b'cr\rback.txt',
        b'tab\tx.txt',
        b'ctl\x01.txt',
        b'del\x7f.txt',
        b'c1' + CSI8 + b'31m.txt',
        b'c1dir' + CSI8 + b'/x.txt',
        b'bad\xff\xfe.txt',
        b'lone\x9b.txt',
        b'long/' + b'k' * 4096,
        b'back\\slash.txt',
    ]),
    'lead': [b'/abs.txt', b'plain.txt'],
    'repeat': [b'a.txt', b'b.txt', b'b.txt', b'c.txt'],
    'backwards': [b'c.txt', b'b.txt', b'a.txt'],
    'nul': [b'a.txt', b'n\x00ul.txt', b'z.txt'],
    'dst': [b'ok.txt', b'sub/keep.txt', b'zzz'],
}


def body_of(key):
    return b'body of ' + key


def etag_of(key):
    return '"%s"' % hashlib.md5(body_of(key)).hexdigest()


LASTMOD = 'Mon, 07 Dec 2026 00:00:00 GMT'
ISO = '2026-12-07T00:00:00.000Z'


def esc(s):
    return s.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def listing(bucket, prefix, delimiter):
    keys = BUCKETS[bucket]
    out, prefixes = [], []
    for k in keys:
        rest = k[len(prefix):] if k.startswith(prefix) else None
        if delimiter and rest is not None and delimiter in rest:
            cp = prefix + rest[:rest.index(delimiter) + len(delimiter)]
            if cp not in prefixes:
                prefixes.append(cp)
            continue
        # Keys outside the prefix are listed anyway: that is the hostility.
        if rest is None and bucket not in ('outside', 'dst'):
            continue
        out.append(k)
    q = lambda b: urllib.parse.quote(b, safe='/')
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
             '<Name>%s</Name><Prefix>%s</Prefix>' % (bucket, q(prefix)),
             '<KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>' % (len(out) + len(prefixes)),
             '<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>']
    for k in out:
        parts.append('<Contents><Key>%s</Key><LastModified>%s</LastModified>'
                     '<ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass>'
                     '</Contents>' % (q(k), ISO, esc(etag_of(k)), len(body_of(k))))
    for p in prefixes:
        parts.append('<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>' % q(p))
    parts.append('</ListBucketResult>')
    return ''.join(parts).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    log_lock = threading.Lock()
    log_file = None

    def log_message(self, fmt, *args):
        pass

    def record(self):
        if Handler.log_file:
            with Handler.log_lock, open(Handler.log_file, 'a') as f:
                f.write('%s %s\n' % (self.command, self.path))

    def split(self):
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote_to_bytes(u.path)
        bucket, _, key = path.lstrip(b'/').partition(b'/')
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        return bucket.decode('latin-1'), key, query

    def send(self, status, body=b'', headers=(), head=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error(self, status, code):
        body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
                '<Message>%s</Message></Error>' % (code, code)).encode()
        self.send(status, body, [('Content-Type', 'application/xml')],
                  head=self.command == 'HEAD')

    def drain(self):
        n = int(self.headers.get('Content-Length') or 0)
        while n > 0:
            got = self.rfile.read(min(n, 65536))
            if not got:
                break
            n -= len(got)

    def object(self, head):
        bucket, key, _ = self.split()
        if bucket not in BUCKETS or key not in BUCKETS[bucket]:
            return self.error(404, 'NoSuchKey')
        body = body_of(key)
        hdrs = [('ETag', etag_of(key)), ('Last-Modified', LASTMOD),
                ('Content-Type', 'application/octet-stream'), ('Accept-Ranges', 'bytes')]
        rng = self.headers.get('Range')
        if rng and rng.startswith('bytes='):
            a, _, b = rng[6:].partition('-')
            a = int(a)
            b = min(int(b) if b else len(body) - 1, len(body) - 1)
            if a >= len(body):
                return self.error(416, 'InvalidRange')
            hdrs.append(('Content-Range', 'bytes %d-%d/%d' % (a, b, len(body))))
            return self.send(206, body[a:b + 1], hdrs, head)
        self.send(200, body, hdrs, head)

    def do_GET(self):
        self.record()
        bucket, key, query = self.split()
        if bucket not in BUCKETS:
            return self.error(404, 'NoSuchBucket')
        if key:
            return self.object(False)
        prefix = urllib.parse.unquote_to_bytes(query.get('prefix', [''])[0])
        delim = urllib.parse.unquote_to_bytes(query.get('delimiter', [''])[0])
        body = listing(bucket, prefix, delim)
        self.send(200, body, [('Content-Type', 'application/xml')])

    def do_HEAD(self):
        self.record()
        self.object(True)

    def do_PUT(self):
        self.record()
        self.drain()
        self.send(200, b'', [('ETag', '"d41d8cd98f00b204e9800998ecf8427e"')])

    def do_POST(self):
        self.record()
        self.drain()
        self.error(501, 'NotImplemented')

    def do_DELETE(self):
        self.record()
        self.send(204)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--log')
    ap.add_argument('--max-seconds', type=float, default=600)
    a = ap.parse_args()
    Handler.log_file = a.log
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads = True
    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % srv.server_address[1])
    os.rename(tmp, a.port_file)
    stop = lambda *_: threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(a.max_seconds, stop)
    timer.daemon = True
    timer.start()
    srv.serve_forever()
    sys.exit(0)


if __name__ == '__main__':
    main()
