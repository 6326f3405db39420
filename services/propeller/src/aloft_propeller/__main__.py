"""Entry point: `aloft-propeller`."""

import sys


def main() -> int:
    print("aloft-propeller: not yet implemented", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
