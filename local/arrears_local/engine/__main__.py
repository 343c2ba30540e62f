"""``python -m arrears_local.engine``: check every patch's contract against the installed moto and botocore."""

from __future__ import annotations

import sys

from .patch import check_contract
from .registry import PATCHES


def main() -> int:
    failures = 0
    for patch in PATCHES:
        try:
            check_contract(patch)
        except AssertionError as exc:
            failures += 1
            print(exc, file=sys.stderr)
        else:
            print(f"ok  {patch.NAME} ({len(patch.TARGETS)} targets, written for {patch.WRITTEN_FOR})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
