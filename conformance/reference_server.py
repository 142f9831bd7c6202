#!/usr/bin/env python3
"""The strict reference server `esp-ws conform` is calibrated against.

An echo server on /ws built on Python's `websockets` library (version 17.4,
pinned by the calibration test in tests/conform.rs). Each TEXT or BINARY
message it receives is sent back as it came; websockets itself answers
PINGs, runs the closing handshake, and fails the connection on every
protocol error RFC 6455 names (RSV bits, reserved opcodes, fragmented or
oversized control frames, bad fragment sequences, invalid UTF-8, invalid
close codes), with the status code RFC 6455 asks for.

Two checks websockets leaves to the application are made here, as its
documentation says they must be (ServerProtocol.process_request: "This
function doesn't check the Host header"): a request without a Host header
is refused with 400, and a path other than /ws with 404.

Usage: reference_server.py PORT. It prints one line when it listens (the
line `esp-ws conform --ready` waits for), and serves until it is stopped.
"""

import asyncio
import http
import sys

import websockets
from websockets.asyncio.server import serve

PATH = "/ws"


def process_request(connection, request):
    if "Host" not in request.headers:
        return connection.respond(http.HTTPStatus.BAD_REQUEST, "Missing Host header\n")
    if request.path.split("?", 1)[0] != PATH:
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Nothing here\n")
    return None


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(port):
    async with serve(echo, "127.0.0.1", port, process_request=process_request) as server:
        print(
            f"reference server: websockets {websockets.version.version} listening on 127.0.0.1:{port}{PATH}",
            flush=True,
        )
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
