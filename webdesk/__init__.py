"""The web desk: the same answers as `sourced ask`, in a browser and over HTTP.

A third thin adapter over one :class:`~retrieval.query.service.QueryService`, beside the CLI
and the Discord bot. It adds `sourced web` through the ``sourced.commands`` entry point,
so the library never imports it; it never imports the bot. Starlette and uvicorn (the
``web`` extra) are imported only when the command runs.
"""
