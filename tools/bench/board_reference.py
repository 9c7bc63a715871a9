#!/usr/bin/python3
"""The raw Redis reference of issue 10 for a leaderboard rebuild.

Reads every board (sorted set) matching `<prefix>:board:*` from a live
redis-server and writes, to --out, the Redis protocol of pipelined variadic
ZADDs that put the same members with the same scores into keys named
`bench-reference:<key>` (--chunk members per ZADD). scripts/bench.sh times
`redis-cli --pipe < OUT` (the reference) and then removes the copies with
`--cleanup`. Prints {"boards": N, "members": M, "commands": C} on stdout.

Usage:
  board_reference.py --port=6379 [--host=127.0.0.1] [--prefix=fivestar]
                     [--chunk=1000] --out=FILE
  board_reference.py --port=6379 --cleanup
"""
import argparse
import json
import socket
import sys

REFERENCE_PREFIX = b"bench-reference:"


class Redis:
    """A minimal RESP2 client: enough for SCAN, ZRANGE and UNLINK."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buf = b""

    def command(self, *args):
        self.sock.sendall(encode(args))
        return self.reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def scan(redis, pattern):
    cursor = b"0"
    while True:
        cursor, keys = redis.command("SCAN", cursor, "MATCH", pattern,
                                     "COUNT", "1000")
        yield from keys
        if cursor == b"0":
            return


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefix", default="fivestar")
    parser.add_argument("--chunk", type=int, default=1000,
                        help="members per ZADD (default 1000)")
    parser.add_argument("--out", help="where to write the protocol")
    parser.add_argument("--cleanup", action="store_true",
                        help="remove the bench-reference:* copies")
    args = parser.parse_args()
    redis = Redis(args.host, args.port)
    if args.cleanup:
        removed = 0
        for key in list(scan(redis, REFERENCE_PREFIX + b"*")):
            removed += redis.command("UNLINK", key)
        print(json.dumps({"removed": removed}))
        return 0
    if not args.out or args.chunk < 1:
        parser.error("--out is required and --chunk must be positive")
    boards = members = commands = 0
    with open(args.out, "wb") as out:
        for key in sorted(scan(redis, args.prefix.encode() + b":board:*")):
            entries = redis.command("ZRANGE", key, "0", "-1", "WITHSCORES")
            pairs = [(entries[i + 1], entries[i])
                     for i in range(0, len(entries), 2)]
            boards += 1
            members += len(pairs)
            for start in range(0, len(pairs), args.chunk):
                chunk = pairs[start:start + args.chunk]
                command = [b"ZADD", REFERENCE_PREFIX + key]
                for score, member in chunk:
                    command += [score, member]
                out.write(encode(command))
                commands += 1
    print(json.dumps({"boards": boards, "members": members,
                      "commands": commands}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
