"""Peak memory of one big request per path on wasmtime serve (tests/e2e/memory.py
measures; this prints). Usage: scripts/bench-memory.sh [--mib N]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))

from fake_upstream import FakeUpstream  # noqa: E402
from memory import cases, measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=32, help="body size in MiB (default 32)")
    parser.add_argument("--only", default="", help="comma list of case-name prefixes")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    upstream = FakeUpstream()
    try:
        print(f"one request of {args.mib} MiB of small items per path, a fresh wasmtime serve each")
        print(f"{'path':34} {'status':>6} {'peak RSS growth':>16} {'× body':>7}")
        for case in cases(upstream):
            if args.only and not any(case.name.startswith(p) for p in args.only.split(",")):
                continue
            status, before, after = measure(case, size, upstream)
            growth = (after - before) * 1024
            print(f"{case.name:34} {status:>6} {growth / 2**20:>12.1f} MiB {growth / size:>7.2f}", flush=True)
            upstream.reset()
    finally:
        upstream.close()


if __name__ == "__main__":
    main()
