#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (run from the repository root; output is committed).

Seeds are hand-built from reference/zk-protocol.md field orders, not captured traffic.
fuzz_jute: first byte = target index (WIRE_RECORDS order in src/wire/records.h, then 46 ConnectRequest,
47 ConnectResponse, 48 request-by-op (4-byte op + body), 49 multi body, 50 multiRead body, 51 MultiResponse body).
fuzz_handshake: a client byte stream (ConnectRequest frame, then request frames)."""
import os
import struct

def i4(v): return struct.pack('>i', v)
def l8(v): return struct.pack('>q', v)
def b1(v): return bytes([1 if v else 0])
def s(x): return i4(-1) if x is None else i4(len(x)) + (x.encode() if isinstance(x, str) else x)
def strvec(xs): return i4(-1) if xs is None else i4(len(xs)) + b''.join(s(x) for x in xs)
def acl(perms, scheme, ident): return i4(perms) + s(scheme) + s(ident)
def aclvec(xs): return i4(len(xs)) + b''.join(acl(*a) for a in xs)
def stat(*f): return l8(f[0]) + l8(f[1]) + l8(f[2]) + l8(f[3]) + i4(f[4]) + i4(f[5]) + i4(f[6]) + l8(f[7]) + i4(f[8]) + i4(f[9]) + l8(f[10])
def frame(body): return i4(len(body)) + body
def mh(t, done, err): return i4(t) + b1(done) + i4(err)

OPEN = [(31, 'world', 'anyone')]
connect45 = i4(0) + l8(0) + i4(30000) + l8(0) + s(bytes(16)) + b1(False)
connect44 = connect45[:44]
create = s('/a') + s('hi') + aclvec(OPEN) + i4(0)
create_ttl = s('/t') + s(None) + aclvec(OPEN) + i4(5) + l8(60000)
multi = (mh(1, False, -1) + create + mh(2, False, -1) + s('/b') + i4(-1) +
         mh(5, False, -1) + s('/c') + s('x') + i4(3) + mh(13, False, -1) + s('/d') + i4(0) +
         mh(21, False, -1) + create_ttl + mh(-1, True, -1))
multi_read = mh(4, False, -1) + s('/a') + b1(True) + mh(8, False, -1) + s('/') + b1(False) + mh(-1, True, -1)
set_watches = l8(7) + strvec(['/a', '/b']) + strvec([]) + strvec(None)
set_watches2 = l8(7) + strvec(['/a']) + strvec([]) + strvec(['/c']) + strvec(['/p']) + strvec(['/r'])
auth = i4(0) + s('digest') + s('bob:secret')

jute = {
    'id': bytes([0]) + s('world') + s('anyone'),
    'stat': bytes([2]) + stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
    'reply_header': bytes([5]) + i4(7) + l8(0x100000002) + i4(-101),
    'set_watches': bytes([10]) + set_watches,
    'set_watches2': bytes([11]) + set_watches2,
    'create_request': bytes([12]) + create,
    'create_ttl_request': bytes([13]) + create_ttl,
    'get_data_response_null': bytes([20]) + s(None) + stat(*range(11)),
    'get_acl_response': bytes([24]) + aclvec(OPEN + [(1, 'digest', 'bob:abc=')]) + stat(*range(11)),
    'get_children2_response': bytes([30]) + strvec(['x', 'yz', '']) + stat(*range(11)),
    'reconfig_request': bytes([36]) + s('server.1=a:1:2') + s(None) + s('') + l8(-1),
    'whoami_response': bytes([42]) + i4(2) + s('ip') + s('127.0.0.1') + s('digest') + s('bob'),
    'connect45': bytes([46]) + connect45,
    'connect44': bytes([46]) + connect44,
    'connect_response': bytes([47]) + i4(0) + i4(30000) + l8(0x1234) + s(bytes(16)) + b1(False),
    'req_create': bytes([48]) + i4(1) + create,
    'req_setacl': bytes([48]) + i4(7) + s('/a') + aclvec(OPEN) + i4(-1),
    'req_multi': bytes([48]) + i4(14) + multi,
    'req_auth': bytes([48]) + i4(100) + auth,
    'req_ping': bytes([48]) + i4(11),
    'multi': bytes([49]) + multi,
    'multi_read': bytes([50]) + multi_read,
    'multi_result': bytes([51]) + mh(1, False, 0) + s('/a1') + mh(15, False, 0) + s('/b') + stat(*range(11)) +
                    mh(2, False, 0) + mh(13, False, 0) + mh(-1, False, -101) + i4(-101) + mh(4, False, 0) + s('d') +
                    stat(*range(11)) + mh(8, False, 0) + strvec(['x']) + mh(-1, True, -1),
}

def req(xid, op, body=b''): return frame(i4(xid) + i4(op) + body)

handshake = {
    'java_session': frame(connect45) + req(-4, 100, auth) + req(1, 1, create) + req(2, 4, s('/a') + b1(True)) +
                    req(-2, 11) + req(3, 14, multi) + req(4, 22, multi_read) + req(5, -11),
    'go_zk_44': frame(connect44) + req(1, 15, create) + req(2, 8, s('/') + b1(False)) + req(3, 105, set_watches2),
    'c_client_reconnect': frame(i4(0) + l8(0x100000005) + i4(10000) + l8(0x0100000000000001) + s(b'p' * 16) + b1(False)) +
                          req(-8, 101, set_watches) + req(7, 106, s('/w') + i4(1)) + req(8, 18, s('/w') + i4(3)) +
                          req(9, 107) + req(10, 103, s('/')) + req(11, 104, s('/')) + req(12, 9, s('/')),
    'unknown_op': frame(connect45) + req(1, 99),
    'bad_len': frame(connect45) + i4(-5) + b'xxxx',
}

def write(name, seeds):
    d = os.path.join('tests', 'fuzz', 'corpus', name)
    os.makedirs(d, exist_ok=True)
    for k, v in sorted(seeds.items()):
        with open(os.path.join(d, k), 'wb') as f:
            f.write(v)

write('fuzz_jute', jute)
write('fuzz_handshake', handshake)
