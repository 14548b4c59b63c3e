"""Reads and adds a WebAssembly component's top-level metadata sections, the
ones `wasm-tools metadata show` and OCI tools read (`version`, `revision`,
`source`, …: custom sections whose payload is the UTF-8 text).

    wasm_metadata.py add IN OUT name=value...   # a copy of IN with the sections appended
    wasm_metadata.py show FILE                  # one name=value line per such section
"""

from __future__ import annotations

import sys

KNOWN = ("version", "revision", "source", "description", "licenses", "homepage", "authors")


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_leb128(data: bytes, at: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[at]
        at += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, at


def custom_section(name: str, payload: bytes) -> bytes:
    body = leb128(len(name.encode())) + name.encode() + payload
    return b"\x00" + leb128(len(body)) + body


def sections(data: bytes) -> list[tuple[str, bytes]]:
    """The top-level custom sections (nested modules and components are skipped whole)."""
    if data[:4] != b"\x00asm":
        raise SystemExit("not a WebAssembly binary")
    found, at = [], 8
    while at < len(data):
        section_id = data[at]
        size, start = read_leb128(data, at + 1)
        if section_id == 0:
            name_len, name_at = read_leb128(data, start)
            name = data[name_at:name_at + name_len].decode()
            found.append((name, data[name_at + name_len:start + size]))
        at = start + size
    return found


def main(argv: list[str]) -> None:
    if argv[:1] == ["show"] and len(argv) == 2:
        for name, payload in sections(open(argv[1], "rb").read()):
            if name in KNOWN:
                print(f"{name}={payload.decode()}")
    elif argv[:1] == ["add"] and len(argv) >= 4:
        data = open(argv[1], "rb").read()
        present = {name for name, _ in sections(data)}
        for pair in argv[3:]:
            name, _, value = pair.partition("=")
            if name not in KNOWN or name in present:
                raise SystemExit(f"{name}: not a metadata field, or already present")
            data += custom_section(name, value.encode())
        open(argv[2], "wb").write(data)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
