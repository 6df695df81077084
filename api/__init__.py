"""The HTTP API and the dashboard over the history store (``spendwatch serve``).

    from api.app import ApiOptions, create_app
    app = create_app(open_store(url), ApiOptions(token=...))   # a FastAPI (ASGI) app
    api.server.serve(app, host, port)                          # uvicorn

Modules: :mod:`api.app` (the app: JSON API under ``/api/v1``, ``/healthz``, ``/metrics``,
``/openapi.json``), :mod:`api.models` (request and response models, hence the OpenAPI document),
:mod:`api.queries` (query parameters → :class:`~spendwatch.history.AnomalyQuery`, times in and
out), :mod:`api.series` (time series for plots), :mod:`api.plots` (SVG drawn on the server),
:mod:`api.pages` (the dashboard's HTML pages), :mod:`api.slack_actions` (Slack's interactivity
request URL), :mod:`api.server` (running it). See ``docs/api.md`` and ``docs/dashboard.md``.
"""
