"""Entry point: `aloft-webhook`."""

import sys


def main() -> int:
    print("aloft-webhook: not yet implemented", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
