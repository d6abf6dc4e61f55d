#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A checking front end for an S3 store that ignores x-amz-checksum-*
(Swift 2.30's s3api), so that libsluice's tests have a store that behaves
as AWS does with checksums.  Standard library plus python3-crcmod.

Listens on 127.0.0.1 (a free port, written to --port-file) and forwards
every request to --target HOST:PORT (loopback only), one request at a time
per connection.  On the way:
  - PutObject / UploadPart carrying x-amz-checksum-<alg> (crc64nvme, crc32c,
    crc32, sha256, sha1): the body is checked; a mismatch is answered
    400 BadDigest without forwarding; a match is forwarded and the value is
    echoed in the reply, as AWS does;
  - CreateMultipartUpload with x-amz-checksum-algorithm: the reply names
    the algorithm and type back (x-amz-checksum-algorithm, -type), which is
    how a client can tell that this store checks them;
  - CompleteMultipartUpload of such an upload: each part's checksum in the
    XML must be the one its UploadPart carried (else 400 InvalidPart), and is
    taken out before the request goes on (Swift's schema refuses it), which
    needs the request signed again: --access-key, --secret-key, --region; for
    FULL_OBJECT the object's CRC is combined from the parts' and checked
    against x-amz-checksum-<alg> when sent (400 BadDigest); the reply gains
    <Checksum...> and <ChecksumType>;
  - HEAD / GET with x-amz-checksum-mode: ENABLED of an object written
    through here: x-amz-checksum-<alg> and x-amz-checksum-type in the reply.
Faults, for the tests (each fires --times K times, default 1; --match
REGEX restricts them to request lines that match):
  --corrupt-upload     flip one byte of a PUT body before checking it (as a
                       network that corrupted it in flight would)
  --corrupt-download   flip one byte of a GET reply body
  --lie-complete       report a wrong object checksum at Complete
Reply headers of GET and HEAD, to play other stores (every time):
  --hide-reply-header NAME   drop NAME (an object another tool uploaded
                       without x-amz-meta-sluice-part-size)
  --add-reply-header NAME:VALUE  add it (x-amz-server-side-encryption:
                       aws:kms, as an SSE-KMS object has)
--plain makes it a store that ignores checksums, as Swift does (only the
faults are injected).
--log FILE gets one line per checked request and per fault, and for every
PUT whether its payload was signed (PAYLOAD signed|unsigned) and whether
it carried Content-MD5 (CONTENT-MD5).  The proxy exits
after --max-seconds (default 600) or on SIGTERM.
"""
import argparse
import base64
import datetime
import hmac
import hashlib
import http.client
import http.server
import ipaddress
import os
import re
import signal
import socketserver
import sys
import threading
import urllib.parse

import crcmod

# Reflected CRCs with initial value and final xor all ones; poly without
# the top term, as the CRC catalogue gives it.
CRCS = {
    'crc64nvme': (0xAD93D23594C93659, 64),
    'crc32c': (0x1EDC6F41, 32),
    'crc32': (0x04C11DB7, 32),
}
CRC_FUNS = {name: crcmod.mkCrcFun((1 << w) | p, initCrc=0, rev=True, xorOut=(1 << w) - 1)
            for name, (p, w) in CRCS.items()}
DIGESTS = {'sha256': hashlib.sha256, 'sha1': hashlib.sha1}
XML_NAME = {'crc64nvme': 'ChecksumCRC64NVME', 'crc32c': 'ChecksumCRC32C', 'crc32': 'ChecksumCRC32',
            'sha256': 'ChecksumSHA256', 'sha1': 'ChecksumSHA1'}


def crc_combine(alg, crc_a, crc_b, len_b):
    """crc(A || B) from crc(A), crc(B), len(B): crc(A) * x^(8 len_b) mod P
    plus crc(B), with Python integers as polynomials (unreflected)."""
    poly, width = CRCS[alg]
    top, mask = 1 << (width - 1), (1 << width) - 1

    def mulmod(a, b):
        r = 0
        for i in range(width - 1, -1, -1):
            r = ((r << 1) & mask) ^ (poly if r & top else 0)
            if (b >> i) & 1:
                r ^= a
        return r

    def reflect(v):
        return int('{:0{w}b}'.format(v, w=width)[::-1], 2)

    xn, sq, n = 1, 2, 8 * len_b
    while n:
        if n & 1:
            xn = mulmod(xn, sq)
        sq = mulmod(sq, sq)
        n >>= 1
    return reflect(mulmod(reflect(crc_a), xn)) ^ crc_b


def resign(method, path, body, host, args):
    """Headers of a SigV4-signed request (header form, signed payload) for
    a body this proxy changed."""
    url = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    enc = lambda v: urllib.parse.quote(v, safe='-_.~')
    cq = '&'.join('%s=%s' % (enc(k), enc(v)) for k, v in sorted(q))
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime('%Y%m%dT%H%M%SZ'), now.strftime('%Y%m%d')
    payload = hashlib.sha256(body).hexdigest()
    hdrs = {'host': host, 'x-amz-content-sha256': payload, 'x-amz-date': amz_date}
    signed = ';'.join(sorted(hdrs))
    canon = '\n'.join([method, url.path, cq] + ['%s:%s' % (k, hdrs[k]) for k in sorted(hdrs)] +
                      ['', signed, payload])
    scope = '%s/%s/s3/aws4_request' % (day, args.region)
    sts = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()])
    key = ('AWS4' + args.secret_key).encode()
    for part in (day, args.region, 's3', 'aws4_request'):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    hdrs['Authorization'] = 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (
        args.access_key, scope, signed, sig)
    hdrs['Content-Length'] = str(len(body))
    return hdrs


def raw_value(alg, data):
    if alg in CRC_FUNS:
        v = CRC_FUNS[alg](data)
        return v.to_bytes(CRCS[alg][1] // 8, 'big')
    return DIGESTS[alg](data).digest()


def b64(raw):
    return base64.b64encode(raw).decode()


class Faults:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.left = {'corrupt-upload': args.times if args.corrupt_upload else 0,
                     'corrupt-download': args.times if args.corrupt_download else 0,
                     'lie-complete': args.times if args.lie_complete else 0}
        self.match = re.compile(args.match) if args.match else None

    def take(self, kind, line):
        if self.match and not self.match.search(line):
            return False
        with self.lock:
            if self.left[kind] > 0:
                self.left[kind] -= 1
                return True
        return False


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.uploads = {}   # upload id -> {'alg', 'type', 'parts': {n: (b64, crc, len)}}
        self.objects = {}   # path -> (alg, b64 value, type)


def log(server, line):
    if server.log:
        with server.log_lock:
            server.log.write(line + '\n')
            server.log.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def send_reply(self, status, headers, body):
        self.send_response_only(status)
        for k, v in headers:
            if k.lower() in ('content-length', 'transfer-encoding', 'connection'):
                continue
            self.send_header(k, v)
        if self.command == 'HEAD':
            self.send_header('Content-Length', str(self.upstream_length or 0))
        else:
            self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def error(self, status, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
                '</Error>' % (code, message)).encode()
        self.upstream_length = len(body)
        self.send_reply(status, [('Content-Type', 'application/xml')], body)

    def forward(self, body, headers=None):
        conn = http.client.HTTPConnection(self.server.target[0], self.server.target[1], timeout=120)
        try:
            if headers is None:
                headers = {k: v for k, v in self.headers.items()}
            conn.request(self.command, self.path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.upstream_length = resp.getheader('Content-Length')
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def handle_any(self):
        srv = self.server
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else b''
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        line = '%s %s' % (self.command, self.path)
        key = url.path
        hdr_alg, hdr_value = None, None
        if self.command == 'PUT' and 'x-amz-copy-source' not in self.headers:
            unsigned = self.headers.get('x-amz-content-sha256', '').startswith('UNSIGNED')
            log(srv, 'PAYLOAD %s %s' % ('unsigned' if unsigned else 'signed', line))
            if 'content-md5' in self.headers:
                log(srv, 'CONTENT-MD5 %s' % line)
        if srv.args.plain:
            if self.command == 'PUT' and srv.faults.take('corrupt-upload', line) and body:
                i = len(body) // 2
                body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
                log(srv, 'FAULT corrupt-upload %s' % line)
            return self.send_reply(*self.reply_faults(line, *self.forward(body)))
        for k, v in self.headers.items():
            k = k.lower()
            if k.startswith('x-amz-checksum-') and k[15:] in XML_NAME:
                hdr_alg, hdr_value = k[15:], v.strip()
        self.upstream_length = None

        if self.command == 'PUT' and 'x-amz-copy-source' not in self.headers:
            if srv.faults.take('corrupt-upload', line) and body:
                i = len(body) // 2
                body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
                log(srv, 'FAULT corrupt-upload %s' % line)
            if hdr_alg:
                mine = b64(raw_value(hdr_alg, body))
                if mine != hdr_value:
                    log(srv, 'REFUSED %s %s BadDigest' % (hdr_alg, line))
                    return self.error(400, 'BadDigest', 'The %s you specified did not match the '
                                      'calculated checksum.' % hdr_alg)
                log(srv, 'CHECKED %s %s' % (hdr_alg, line))
            status, headers, data = self.forward(body)
            if status == 200 and hdr_alg:
                headers.append(('x-amz-checksum-' + hdr_alg, hdr_value))
                with srv.state.lock:
                    if 'uploadId' in query:
                        up = srv.state.uploads.get(query['uploadId'][0])
                        if up is not None:
                            crc = CRC_FUNS[hdr_alg](body) if hdr_alg in CRC_FUNS else None
                            up['parts'][int(query['partNumber'][0])] = (hdr_value, crc, len(body))
                    else:
                        headers.append(('x-amz-checksum-type', 'FULL_OBJECT'))
                        srv.state.objects[key] = (hdr_alg, hdr_value, 'FULL_OBJECT')
            elif status == 200 and 'uploadId' not in query:
                with srv.state.lock:
                    srv.state.objects.pop(key, None)
            return self.send_reply(status, headers, data)

        if self.command == 'POST' and 'uploads' in query:
            alg = (self.headers.get('x-amz-checksum-algorithm') or '').lower()
            ctype = self.headers.get('x-amz-checksum-type') or ('FULL_OBJECT' if alg in CRCS else 'COMPOSITE')
            status, headers, data = self.forward(body)
            m = re.search(rb'<UploadId>([^<]+)</UploadId>', data)
            if status == 200 and alg in XML_NAME and m:
                with srv.state.lock:
                    srv.state.uploads[m.group(1).decode()] = {'alg': alg, 'type': ctype, 'parts': {}}
                headers += [('x-amz-checksum-algorithm', alg.upper()), ('x-amz-checksum-type', ctype)]
            return self.send_reply(status, headers, data)

        if self.command == 'POST' and 'uploadId' in query:
            with srv.state.lock:
                up = srv.state.uploads.get(query['uploadId'][0])
            whole = None
            if up:
                alg = up['alg']
                parts = re.findall(rb'<Part>(.*?)</Part>', body, re.S)
                order = []
                for p in parts:
                    num = int(re.search(rb'<PartNumber>(\d+)</PartNumber>', p).group(1))
                    sent = re.search(rb'<%s>([^<]*)</%s>' % (XML_NAME[alg].encode(), XML_NAME[alg].encode()), p)
                    have = up['parts'].get(num)
                    if not have or not sent or sent.group(1).decode() != have[0]:
                        log(srv, 'REFUSED complete %s part %d' % (line, num))
                        return self.error(400, 'InvalidPart', 'Part %d: its checksum is missing or is not '
                                          'the one it was uploaded with.' % num)
                    order.append(have)
                if up['type'] == 'FULL_OBJECT' and alg in CRCS:
                    acc = order[0][1]
                    for _, crc, ln in order[1:]:
                        acc = crc_combine(alg, acc, crc, ln)
                    whole = b64(acc.to_bytes(CRCS[alg][1] // 8, 'big'))
                else:
                    h = DIGESTS[alg]()
                    for v, _, _ in order:
                        h.update(base64.b64decode(v))
                    whole = '%s-%d' % (b64(h.digest()), len(order))
                if up['type'] == 'FULL_OBJECT' and hdr_alg == alg and hdr_value != whole:
                    log(srv, 'REFUSED complete %s BadDigest' % line)
                    return self.error(400, 'BadDigest', 'The %s you specified for the object did not '
                                      'match the one calculated from its parts.' % alg)
                log(srv, 'CHECKED complete %s %s' % (alg, line))
                body = re.sub(rb'<Checksum[A-Z0-9]+>[^<]*</Checksum[A-Z0-9]+>', b'', body)
                status, headers, data = self.forward(body, resign('POST', self.path, body, self.headers['Host'],
                                                                  srv.args))
            else:
                status, headers, data = self.forward(body)
            if status == 200 and up and b'<CompleteMultipartUploadResult' in data:
                reported = whole
                if srv.faults.take('lie-complete', line):
                    raw = bytearray(base64.b64decode(whole.split('-')[0]))
                    raw[0] ^= 0xFF
                    reported = b64(bytes(raw)) + ('-' + whole.split('-')[1] if '-' in whole else '')
                    log(srv, 'FAULT lie-complete %s' % line)
                xml = '<%s>%s</%s><ChecksumType>%s</ChecksumType>' % (
                    XML_NAME[up['alg']], reported, XML_NAME[up['alg']], up['type'])
                data = data.replace(b'</CompleteMultipartUploadResult>',
                                    xml.encode() + b'</CompleteMultipartUploadResult>')
                with srv.state.lock:
                    srv.state.objects[key] = (up['alg'], reported, up['type'])
            return self.send_reply(status, headers, data)

        status, headers, data = self.forward(body)
        if self.command == 'DELETE' and not query:
            with srv.state.lock:
                srv.state.objects.pop(key, None)
        if self.command in ('GET', 'HEAD') and status in (200, 206):
            with srv.state.lock:
                obj = srv.state.objects.get(key)
            if obj and (self.headers.get('x-amz-checksum-mode') or '').upper() == 'ENABLED':
                headers += [('x-amz-checksum-' + obj[0], obj[1]), ('x-amz-checksum-type', obj[2])]
        return self.send_reply(*self.reply_faults(line, status, headers, data))

    def reply_faults(self, line, status, headers, data):
        """The reply as another store, or a flaky network, would send it."""
        srv = self.server
        if self.command not in ('GET', 'HEAD') or status not in (200, 206):
            return status, headers, data
        hide = [h.lower() for h in srv.args.hide_reply_header]
        headers = [(k, v) for k, v in headers if k.lower() not in hide]
        headers += [tuple(h.split(':', 1)) for h in srv.args.add_reply_header]
        if self.command == 'GET' and data and srv.faults.take('corrupt-download', line):
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
            log(srv, 'FAULT corrupt-download %s' % line)
        return status, headers, data

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--target', required=True)
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--log')
    ap.add_argument('--max-seconds', type=float, default=600)
    ap.add_argument('--corrupt-upload', action='store_true')
    ap.add_argument('--corrupt-download', action='store_true')
    ap.add_argument('--lie-complete', action='store_true')
    ap.add_argument('--times', type=int, default=1)
    ap.add_argument('--hide-reply-header', action='append', default=[])
    ap.add_argument('--add-reply-header', action='append', default=[])
    ap.add_argument('--match')
    ap.add_argument('--plain', action='store_true')
    ap.add_argument('--access-key', default='')
    ap.add_argument('--secret-key', default='')
    ap.add_argument('--region', default='us-east-1')
    args = ap.parse_args()
    host, port = args.target.rsplit(':', 1)
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit('checksum-proxy: the target must be a loopback address')
    srv = Server(('127.0.0.1', 0), Handler)
    srv.target = (host, int(port))
    srv.faults = Faults(args)
    srv.args = args
    srv.state = State()
    srv.log = open(args.log, 'a') if args.log else None
    srv.log_lock = threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    timer = threading.Timer(args.max_seconds, srv.shutdown)
    timer.daemon = True
    timer.start()
    with open(args.port_file + '.tmp', 'w') as f:
        f.write('%d\n' % srv.server_address[1])
    os.rename(args.port_file + '.tmp', args.port_file)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()


if __name__ == '__main__':
    main()
