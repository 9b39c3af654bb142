"""``labkit mcp-serve``: the course's MCP tools (or your own server) over streamable HTTP.

::

    labkit mcp-serve                          # the course server on http://127.0.0.1:8788/mcp
    labkit mcp-serve --dir labs/agent-02      # YOUR course_server.build_server(db) instead
    labkit mcp-serve --stdio                  # over stdin/stdout, for a client that starts it

The shop database is a fresh temporary copy unless ``--db`` names one (``refund_order`` writes
to it: the committed ``datasets/shop/shop.sqlite`` is never touched).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8788


def register(subparsers: Any) -> None:
    """Add the ``mcp-serve`` sub-command to the ``labkit`` parser."""
    from labkit.fakellm.serving import serve_command

    parser = serve_command(
        subparsers,
        "mcp-serve",
        serve,
        default_port=DEFAULT_PORT,
        help="serve the course's MCP tools (or your own server) over streamable HTTP on 127.0.0.1",
        description="Serve an MCP server with the course tools until Ctrl-C.",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="shop database to serve (default: a temporary copy)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="serve course_server.build_server(db) from this folder (e.g. labs/agent-02)",
    )
    parser.add_argument("--stdio", action="store_true", help="speak MCP over stdin/stdout instead")


def build(folder: Path | None, db: Path) -> Any:
    """The server to serve: the learner's (``--dir``) or the course's own."""
    from labkit.errors import LabkitError

    if folder is None:
        from labkit.mcp_testing.course import build_course_server

        return build_course_server(db)
    if not (folder / "course_server.py").is_file():
        raise LabkitError(
            f"{folder}/course_server.py not found: pass the lab folder, e.g. --dir labs/agent-02"
        )
    sys.path.insert(0, str(folder.resolve()))
    module = importlib.import_module("course_server")
    return module.build_server(db)


def serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C / SIGTERM (or until stdin closes with ``--stdio``)."""
    from labkit.errors import LabkitError
    from labkit.fakellm.serving import serve_in_foreground
    from labkit.mcp_testing.fixtures import copy_shop
    from labkit.mcp_testing.http import HttpMcpServer

    temp: str | None = None
    if args.db is None:
        temp = tempfile.mkdtemp(prefix="labkit-mcp-")
        db = copy_shop(temp)
    elif not args.db.is_file():
        raise LabkitError(f"no database at {args.db}")
    else:
        db = args.db
    try:
        server = build(args.dir, db)
        if args.stdio:
            server.run("stdio")
            return 0
        http = HttpMcpServer(server).start(port=args.port, host=args.host)
        serve_in_foreground(
            http,
            f"labkit MCP server on {http.url} (streamable HTTP; shop database {db}) — "
            "connect with mcp.Client(url); Ctrl-C stops",
            "the MCP server",
        )
        return 0
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
