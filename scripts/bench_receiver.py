"""The Devo stand-in of the benchmark (scripts/bench.ts), in its own process.

A mutual-TLS syslog receiver: it requires a client certificate signed by the test CA, counts
lines and bytes without keeping them, and answers a client's end of stream (TLS close_notify) by
closing its own side, which is how the collector's output confirms a batch. A connection that
ends any other way (reset, end without close_notify) is not counted. It speaks the protocol of
the `node:tls` receiver in scripts/bench_receiver.ts (`ReceiverStatus`): one JSON line
`{"port": N}` when the port is chosen, then one status line each time a connection is confirmed
(its lines and bytes are added then) and one on SIGTERM or SIGINT, after which it exits.

Why Python: in production Devo's relay runs on another machine, but here the receiver shares the
two vCPUs with the collector. Reading the socket in 1 MiB chunks into an OpenSSL memory BIO and
finding newlines with `bytearray.find` (C) costs about 1.4 CPU-s per 1.7 GB (a million
CloudTrail events), against 3.4 for the `node:tls` receiver, which `bench.ts --receiver deno`
still runs.

Slow or absent output, for `bench.ts --slow-output`:
  --down-ms N     nothing listens on the port for the first N ms (connections are refused);
  --rate-bytes N  all connections together are read at most N bytes per second, so the sender
                  meets TCP backpressure.

    python3 scripts/bench_receiver.py --ca CA --cert CERT --key KEY [--port N] \
        [--down-ms N] [--rate-bytes N]
"""

import argparse
import json
import signal
import socket
import ssl
import sys
import threading
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--down-ms", type=int, default=0)
    parser.add_argument("--rate-bytes", type=int, default=0)
    args = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.load_verify_locations(args.ca)
    context.verify_mode = ssl.CERT_REQUIRED

    lock = threading.Lock()
    status = {
        "lines": 0,
        "bytes": 0,
        "connections": 0,
        "handshakeErrors": 0,
        "firstMs": 0,
        "lastMs": 0,
        "confirmedMs": 0,
    }
    throttle = {"start": 0.0, "total": 0}

    def report() -> None:
        sys.stdout.write(json.dumps(status) + "\n")
        sys.stdout.flush()

    def now_ms() -> int:
        return int(time.time() * 1000)

    def serve(raw: socket.socket) -> None:
        incoming = ssl.MemoryBIO()
        outgoing = ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        raw_buf = bytearray(1024 * 1024)
        raw_view = memoryview(raw_buf)
        buf = bytearray(64 * 1024)
        lines = 0
        nbytes = 0
        eof = False

        def pump_out() -> None:
            data = outgoing.read()
            if data:
                raw.sendall(data)

        def pump_in() -> bool:
            n = raw.recv_into(raw_buf)
            if n == 0:
                incoming.write_eof()
                return False
            incoming.write(raw_view[:n])
            return True

        try:
            while True:
                try:
                    tls.do_handshake()
                    pump_out()
                    break
                except ssl.SSLWantReadError:
                    pump_out()
                    if not pump_in():
                        raise OSError("closed during handshake")
        except (ssl.SSLError, OSError):
            with lock:
                status["handshakeErrors"] += 1
            raw.close()
            return
        with lock:
            status["connections"] += 1
        try:
            while not eof:
                try:
                    n = tls.read(65536, buf)
                except ssl.SSLWantReadError:
                    if not pump_in():
                        raise OSError("closed without close_notify")
                    continue
                except ssl.SSLZeroReturnError:
                    break
                if n == 0:
                    break
                if status["firstMs"] == 0:
                    with lock:
                        if status["firstMs"] == 0:
                            status["firstMs"] = now_ms()
                at = buf.find(10, 0, n)
                while at >= 0:
                    lines += 1
                    at = buf.find(10, at + 1, n)
                nbytes += n
                if args.rate_bytes > 0:
                    with lock:
                        if throttle["start"] == 0.0:
                            throttle["start"] = time.monotonic()
                        throttle["total"] += n
                        ahead = (
                            throttle["start"]
                            + throttle["total"] / args.rate_bytes
                            - time.monotonic()
                        )
                    if ahead > 0.001:
                        time.sleep(ahead)
            try:
                tls.unwrap()
            except (ssl.SSLError, OSError):
                pass
            try:
                pump_out()
            except OSError:
                pass
            raw.close()
            t = now_ms()
            with lock:
                status["lines"] += lines
                status["bytes"] += nbytes
                status["lastMs"] = t
                status["confirmedMs"] = t
                report()
        except (ssl.SSLError, OSError):
            raw.close()

    port = args.port
    if port == 0:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
    report_port = json.dumps({"port": port})
    sys.stdout.write(report_port + "\n")
    sys.stdout.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if stop.wait(args.down_ms / 1000):
        return 0

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)

    def accept() -> None:
        while True:
            try:
                raw, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(raw,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    while not stop.wait(0.5):
        pass
    server.close()
    with lock:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
