"""Entry point: command-line subcommands stay Qt-free; anything else opens the window."""

from __future__ import annotations

import sys

CLI_COMMANDS = {"scan", "inspect", "run", "verify", "duplicates", "download", "cache"}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from explorer.core.torch_import import keep_custom_code_copies_in_app_cache

    keep_custom_code_copies_in_app_cache()
    if args and args[0] in CLI_COMMANDS:
        from explorer import cli

        return cli.main(args)
    from explorer import app

    return app.main(args)
