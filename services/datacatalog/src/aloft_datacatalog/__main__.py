"""Entry point: `aloft-datacatalog`."""

import sys


def main() -> int:
    print("aloft-datacatalog: not yet implemented", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
