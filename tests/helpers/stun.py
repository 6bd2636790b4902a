"""The few STUN/TURN messages the coturn tests send (RFC 8489, RFC 8656), over blocking sockets.

Written here rather than taken from aioice because the tests need what its TURN client does not
expose: REQUESTED-ADDRESS-FAMILY (IPv6 allocations), a CreatePermission whose error code is the
point of the test, and Send indications to peers that were refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import zlib
from dataclasses import dataclass, field

COOKIE = 0x2112A442
ALLOCATE, CREATE_PERMISSION, SEND, DATA, CHANNEL_BIND = 0x003, 0x008, 0x006, 0x007, 0x009
REQUEST, INDICATION, SUCCESS, ERROR = 0x000, 0x010, 0x100, 0x110
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, CHANNEL_NUMBER, LIFETIME = 0x0006, 0x0008, 0x0009, 0x000C, 0x000D
XOR_PEER_ADDRESS, DATA_ATTR, REALM, NONCE, XOR_RELAYED_ADDRESS = 0x0012, 0x0013, 0x0014, 0x0015, 0x0016
REQUESTED_ADDRESS_FAMILY, REQUESTED_TRANSPORT, FINGERPRINT = 0x0017, 0x0019, 0x8028
UDP, TCP = 17, 6


@dataclass
class Message:
    method: int
    cls: int
    txid: bytes = field(default_factory=lambda: os.urandom(12))
    attrs: list[tuple[int, bytes]] = field(default_factory=list)

    def get(self, kind: int) -> bytes | None:
        return next((value for k, value in self.attrs if k == kind), None)

    @property
    def error_code(self) -> int | None:
        value = self.get(ERROR_CODE)
        return None if value is None else (value[2] & 0x7) * 100 + value[3]

    def xor_address(self, kind: int) -> tuple[str, int] | None:
        value = self.get(kind)
        return None if value is None else unxor_address(value, self.txid)


def _attr(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + bytes(-len(value) % 4)


def xor_address(address: str, port: int, txid: bytes) -> bytes:
    ip = ipaddress.ip_address(address)
    mask = struct.pack("!I", COOKIE) + (txid if ip.version == 6 else b"")
    packed = bytes(a ^ b for a, b in zip(ip.packed, mask, strict=True))
    return struct.pack("!BBH", 0, 1 if ip.version == 4 else 2, port ^ (COOKIE >> 16)) + packed


def unxor_address(value: bytes, txid: bytes) -> tuple[str, int]:
    family, port = value[1], struct.unpack("!H", value[2:4])[0] ^ (COOKIE >> 16)
    mask = struct.pack("!I", COOKIE) + (txid if family == 2 else b"")
    raw = bytes(a ^ b for a, b in zip(value[4:], mask, strict=True))
    return str(ipaddress.ip_address(raw)), port


def encode(message: Message, key: bytes | None = None) -> bytes:
    body = b"".join(_attr(kind, value) for kind, value in message.attrs)
    kind = message.method | message.cls

    def header(length: int) -> bytes:
        return struct.pack("!HHI12s", kind, length, COOKIE, message.txid)

    if key is not None:
        mac = hmac.new(key, header(len(body) + 24) + body, hashlib.sha1).digest()
        body += _attr(MESSAGE_INTEGRITY, mac)
    crc = zlib.crc32(header(len(body) + 8) + body) ^ 0x5354554E
    body += _attr(FINGERPRINT, struct.pack("!I", crc))
    return header(len(body)) + body


def decode(data: bytes) -> Message:
    kind, length, cookie, txid = struct.unpack("!HHI12s", data[:20])
    if cookie != COOKIE or len(data) != 20 + length:
        raise ValueError("not a STUN message")
    attrs, pos = [], 20
    while pos + 4 <= len(data):
        attr, size = struct.unpack("!HH", data[pos:pos + 4])
        attrs.append((attr, data[pos + 4:pos + 4 + size]))
        pos += 4 + size + (-size % 4)
    return Message(kind & 0x3EEF, kind & 0x0110, txid, attrs)


def long_term_key(username: str, realm: str, password: str) -> bytes:
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()  # RFC 8489 9.2.2


class TurnClient:
    """One allocation on one socket made by the caller (e.g. inside a network namespace): UDP,
    or a TCP connection (RFC 6062's control connection) already connected to the server."""

    def __init__(self, sock: socket.socket, server: tuple[str, int], username: str, password: str) -> None:
        self.sock, self.server, self.username, self.password = sock, server, username, password
        self.realm, self.nonce, self.key = "", b"", b""
        self.relayed: tuple[str, int] | None = None
        self.sock.settimeout(3)

    def _exchange(self, message: Message, *, signed: bool = True) -> Message:
        if signed:
            message.attrs[:0] = [(USERNAME, self.username.encode()), (REALM, self.realm.encode()),
                                 (NONCE, self.nonce)]
        self._send(encode(message, self.key if signed else None))
        while True:
            answer = decode(self._receive())
            if answer.txid == message.txid:
                return answer

    def _send(self, data: bytes) -> None:
        if self.sock.type == socket.SOCK_STREAM:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, self.server)

    def _receive(self) -> bytes:
        if self.sock.type != socket.SOCK_STREAM:
            return self.sock.recvfrom(4096)[0]
        header = self._read_exactly(20)
        return header + self._read_exactly(struct.unpack("!H", header[2:4])[0])

    def _read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the TURN server closed the connection")
            data += chunk
        return data

    def allocate(self, family: int = 4, transport: int = UDP) -> Message:
        """Allocate (two rounds: the first 401 gives realm and nonce). Returns the final answer."""
        attrs = [(REQUESTED_TRANSPORT, bytes([transport, 0, 0, 0])), (LIFETIME, struct.pack("!I", 600))]
        if family == 6:
            attrs.append((REQUESTED_ADDRESS_FAMILY, bytes([2, 0, 0, 0])))
        first = self._exchange(Message(ALLOCATE, REQUEST, attrs=list(attrs)), signed=False)
        if first.error_code != 401:
            return first
        self.realm = (first.get(REALM) or b"").decode()
        self.nonce = first.get(NONCE) or b""
        self.key = long_term_key(self.username, self.realm, self.password)
        answer = self._exchange(Message(ALLOCATE, REQUEST, attrs=list(attrs)))
        if answer.cls == SUCCESS:
            self.relayed = answer.xor_address(XOR_RELAYED_ADDRESS)
        return answer

    def create_permission(self, peer: str) -> Message:
        txid = os.urandom(12)
        return self._exchange(Message(CREATE_PERMISSION, REQUEST, txid,
                                      [(XOR_PEER_ADDRESS, xor_address(peer, 0, txid))]))

    def channel_bind(self, peer: str, port: int, channel: int) -> Message:
        txid = os.urandom(12)
        return self._exchange(Message(CHANNEL_BIND, REQUEST, txid,
                                      [(CHANNEL_NUMBER, struct.pack("!HH", channel, 0)),
                                       (XOR_PEER_ADDRESS, xor_address(peer, port, txid))]))

    def send(self, peer: str, port: int, data: bytes) -> None:
        """A Send indication: unauthenticated, and coturn answers nothing either way."""
        txid = os.urandom(12)
        message = Message(SEND, INDICATION, txid, [(XOR_PEER_ADDRESS, xor_address(peer, port, txid)),
                                                   (DATA_ATTR, data)])
        self._send(encode(message))

    def send_channel(self, channel: int, data: bytes) -> None:
        """ChannelData (RFC 8656 12.4), the framing browsers relay media in once a channel is bound."""
        self._send(struct.pack("!HH", channel, len(data)) + data)

    def receive_channel(self) -> tuple[int, bytes]:
        while True:
            data = self.sock.recvfrom(4096)[0]
            if 0x4000 <= struct.unpack("!H", data[:2])[0] <= 0x7FFF:
                channel, length = struct.unpack("!HH", data[:4])
                return channel, data[4:4 + length]

    def receive(self) -> tuple[tuple[str, int], bytes]:
        """The next Data indication: (peer address, data)."""
        while True:
            message = decode(self._receive())
            peer = message.xor_address(XOR_PEER_ADDRESS)
            data = message.get(DATA_ATTR)
            if message.method == DATA and message.cls == INDICATION and peer and data is not None:
                return peer, data
