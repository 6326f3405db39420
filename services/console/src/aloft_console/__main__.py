"""Entry point: `aloft-console`."""

import sys


def main() -> int:
    print("aloft-console: not yet implemented", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
