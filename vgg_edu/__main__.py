"""Command line: ``python -m vgg_edu data`` (is Fashion-MNIST here?)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vgg_edu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("data", help="say where Fashion-MNIST is; exit 1 if it is nowhere on this machine")
    args = parser.parse_args(argv)
    if args.command == "data":
        from .data import candidate_dirs, find_fashion_mnist
        found = find_fashion_mnist()
        if found:
            print(f"Fashion-MNIST found in {found}")
            return 0
        print("Fashion-MNIST not found in: " + ", ".join(map(str, candidate_dirs())), file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
