"""Structured logs: one JSON object a line (``--log-format json``), with the ``extra`` fields."""

from __future__ import annotations

import logging
from typing import Any

import orjson

_STD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                               "msg": record.getMessage()}
        for k, v in vars(record).items():
            if k not in _STD and not k.startswith("_"):
                doc[k] = v
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class KeyValueFormatter(logging.Formatter):
    """Plain text plus ``key=value`` for the ``extra`` fields, so text logs carry them too."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STD and not k.startswith("_"))
        return f"{base} {extra}" if extra else base


def handler(fmt: str) -> logging.Handler:
    h = logging.StreamHandler()
    h.setFormatter(JsonFormatter() if fmt == "json"
                   else KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return h
