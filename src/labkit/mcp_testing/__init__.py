"""MCP grading fixtures: the course's tools as an MCP server, a server-side call log, per-tool
fault schedules, streamable HTTP on loopback, and plain-data client helpers.

- :mod:`labkit.mcp_testing.course` — the three course tools (``search_kb``, ``query_shop``,
  ``refund_order``) as an ``MCPServer``;
- :mod:`labkit.mcp_testing.calllog` — :func:`instrument` any ``MCPServer``: every ``tools/call``
  recorded, faults (fail N times, slow, malformed, canned result) injected per tool;
- :mod:`labkit.mcp_testing.http` — serve an ``MCPServer`` over streamable HTTP in a thread;
- :mod:`labkit.mcp_testing.tools` — ``list_tools`` / ``call_tool`` returning plain data;
- :mod:`labkit.mcp_testing.fixtures` — :class:`CourseMcp` and the shop database copies (the pytest
  fixtures ``mcp_course_server`` / ``mcp_course`` built on them are in :mod:`labkit.testing`);
- :mod:`labkit.mcp_testing.cli` — ``labkit mcp-serve``.
"""
