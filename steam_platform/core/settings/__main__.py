"""`python -m steam_platform.core.settings`: print or refresh the docs' table of variables.

--markdown            print the table
--write DOC           replace the table between the markers of DOC (e.g. docs/operating.md)
--check DOC           exit 1 when DOC's table differs from the settings declarations
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from steam_platform.core.settings.table import markdown_table, table_in, with_table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; an exit code."""
    parser = argparse.ArgumentParser(prog="python -m steam_platform.core.settings", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--markdown", action="store_true", help="print the table")
    action.add_argument("--write", type=Path, metavar="DOC", help="rewrite the table in DOC")
    action.add_argument("--check", type=Path, metavar="DOC", help="fail when DOC's table is stale")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table())
    elif args.write:
        args.write.write_text(with_table(args.write.read_text()))
    elif table_in(args.check.read_text()) != markdown_table():
        print(f"{args.check}: the settings table is stale; run: {parser.prog} --write {args.check}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
