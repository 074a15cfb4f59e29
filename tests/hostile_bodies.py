"""Hostile request bodies and a raw HTTP client that sends one while the caller does something else (the
tests in tests/config/test_body_limits.py and the probe tests/probe_hostile.py)."""

from __future__ import annotations

import json
import socket
import threading
from urllib.parse import urlsplit

BOUNDARY = "hostile0boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def many_parts(n: int = 200_000) -> bytes:
    """``n`` tiny form fields in one multipart body (200,000 make about 11.5 MB)."""
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n'.encode()
    return part * n + f"--{BOUNDARY}--\r\n".encode()


def one_big_part(size: int = 60 * 1024 * 1024) -> bytes:
    """One file part of ``size`` bytes."""
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'.encode()
    return head + b"a" * size + f"\r\n--{BOUNDARY}--\r\n".encode()


def _chunked(body: bytes, size: int = 64 * 1024):
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def _read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection without an answer: {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split(" ")[1]), headers, body[:length]


def hostile_post(base_url: str, path: str, body: bytes, *, content_type: str = MULTIPART, chunked: bool = False,
                 meanwhile=None, timeout_s: float = 60) -> tuple[int, dict]:
    """POST ``body`` to ``path`` over a socket of its own; after the head and the first 1 MB are sent, call
    ``meanwhile()`` (the hostile request is then in flight), send the rest from a thread while reading the
    answer, and return (status, JSON body). A server that stops reading mid-body may reset the sending side:
    only the answer counts."""
    u = urlsplit(base_url)
    head = [f"POST {path} HTTP/1.1", f"Host: {u.netloc}", f"Content-Type: {content_type}"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    pieces = list(_chunked(body)) if chunked else [body[i:i + 64 * 1024] for i in range(0, len(body), 64 * 1024)]
    first = 16  # 16 x 64 KiB = 1 MiB sent before meanwhile()
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout_s)
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

        def send(chunks):
            try:
                for piece in chunks:
                    sock.sendall(piece)
            except OSError:
                pass  # the server answered and stopped reading

        send(pieces[:first])
        if meanwhile is not None:
            meanwhile()
        sender = threading.Thread(target=send, args=(pieces[first:],), daemon=True)
        sender.start()
        status, _headers, answer = _read_response(sock)
        return status, json.loads(answer)
    finally:
        sock.close()
