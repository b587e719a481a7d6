"""Invoke one built function the way Function Compute does: a smoke test of a build, without Docker or an account.

    python packaging/invoke.py build/fc/python3.12/api events/http_trigger_request.json

Run it with an interpreter that has nothing installed (a fresh `python -m venv`): the code directory replaces this
script's folder as the first `sys.path` entry, as `/code` is in FC, so only what the build put there can be imported.
It builds a context shaped like FC's python3.10 one (docs/runtime.md#credentials; credentials from
`ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`, `ALIBABA_CLOUD_SECURITY_TOKEN`, as FC also sets them),
calls `handler.initialize(context)` once and then `handler.handler(event_bytes, context)`, and prints one JSON object:
`result` (the handler's return value), `loaded_from` (where `handler` and its packages were imported from), for
each `--check-import`, whether the module imports, and with `--list-modules`, every module the cold start loaded
(`modules`, taken before any `--check-import`) and every pydantic model whose validator it built (`built_models`:
a model that defers its build pays for it on first use).

Standard library only: it must run where nothing but the build is importable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str


@dataclass(frozen=True)
class FunctionMeta:
    name: str
    handler: str
    memory: int
    timeout: int


@dataclass(frozen=True)
class ServiceMeta:
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass(frozen=True)
class FCContext:
    credentials: Credentials
    function: FunctionMeta
    region: str
    account_id: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    service: ServiceMeta = field(default_factory=ServiceMeta)


def fc_context(function_name: str, timeout_seconds: int) -> FCContext:
    return FCContext(
        credentials=Credentials(
            os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
            os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
            os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
        ),
        function=FunctionMeta(function_name, "handler.handler", 512, timeout_seconds),
        region=os.environ.get("FC_REGION", "cn-hangzhou"),
        account_id=os.environ.get("FC_ACCOUNT_ID", "1234567890123456"),
    )


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _origin(module: str) -> str | None:
    loaded = sys.modules.get(module)
    return getattr(loaded, "__file__", None)


def _built_models() -> list[str]:
    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return []
    built, pending = set(), list(pydantic.BaseModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if getattr(model, "__pydantic_complete__", False):
            built.add(f"{model.__module__}.{model.__qualname__}")
    return sorted(built)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Invoke a built FC function with an event file, as FC would.")
    parser.add_argument("code_dir", type=Path, help="a built function directory, e.g. build/fc/python3.12/api")
    parser.add_argument("event", type=Path, help="the event file, e.g. events/http_trigger_request.json")
    parser.add_argument("--timeout", type=int, default=60, help="the function's timeout in seconds (context)")
    parser.add_argument("--check-import", action="append", default=[], help="report whether MODULE imports")
    parser.add_argument(
        "--list-modules", action="store_true", help="report the modules the cold start loaded and the models it built"
    )
    args = parser.parse_args(argv)

    code_dir = args.code_dir.resolve()
    sys.path[0] = str(code_dir)
    context = fc_context(code_dir.name, args.timeout)
    handler = importlib.import_module("handler")
    handler.initialize(context)
    result: Any = handler.handler(args.event.read_bytes(), context)
    loaded = sorted(sys.modules) if args.list_modules else None
    built_models = _built_models() if args.list_modules else None
    output = {
        "result": result,
        "loaded_from": {name: _origin(name) for name in ("handler", "certdeploy", "pydantic", "sqlalchemy")},
        "imports": {module: _importable(module) for module in args.check_import},
    }
    if loaded is not None:
        output["modules"] = loaded
        output["built_models"] = built_models
    print(json.dumps(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
