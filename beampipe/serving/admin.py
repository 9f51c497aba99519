"""The admin API: change the split, promote or roll back a canary without a restart.

On the serving port, under ``/admin/``, answered only for clients on this machine (loopback
peers): whoever can reach the machine's loopback can already restart the server, so this adds
no new power; remote callers get 403 even when ``--host`` exposes the REST API. An endpoint
rather than a watched config file because a change takes effect (and is confirmed, with the
resulting routing) in the reply, and a typo is refused instead of half-applied.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
from typing import Any

from aiohttp import web

from beampipe.serving.codec import BadRequest
from beampipe.serving.config import ConfigError, policy_from
from beampipe.serving.manager import Manager, ServedModel


def add_routes(app: web.Application, key: Any) -> None:
    async def show(request: web.Request) -> web.Response:
        _local_only(request)
        return web.json_response(describe(request.app[key].get(request.match_info["name"])))

    async def change(request: web.Request) -> web.Response:
        _local_only(request)
        manager: Manager = request.app[key]
        model = manager.get(request.match_info["name"])
        action = request.match_info["action"]
        body = await _body(request) if action == "policy" else {}
        try:
            if action == "policy":
                policy = policy_from(body, "policy", base=model.policy)
            elif action == "promote":
                canary = model.routing.canary
                if canary is None:
                    raise BadRequest(f"model '{model.name}' has no canary to promote")
                policy = dataclasses.replace(model.policy, stable=canary.version)
            elif action == "rollback":
                canary, stable = model.routing.canary, model.routing.stable
                if canary is None or stable is None:
                    raise BadRequest(f"model '{model.name}' has no canary to roll back")
                policy = dataclasses.replace(model.policy, stable=stable.version,
                                             rejected=(*model.policy.rejected, canary.version))
            else:
                raise BadRequest(f"unknown admin action '{action}' (policy, promote, rollback)")
        except ConfigError as err:
            raise BadRequest(str(err)) from None
        manager.set_policy(model.name, policy)
        return web.json_response(describe(model))

    app.router.add_get("/admin/models/{name}", show)
    app.router.add_post("/admin/models/{name}/{action}", change)


def _local_only(request: web.Request) -> None:
    try:
        local = ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
    except ValueError:
        local = False
    if not local:
        raise web.HTTPForbidden(reason="the admin API answers only clients on this machine")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"JSON Parse error: {err}") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def describe(model: ServedModel) -> dict[str, Any]:
    """The policy and the routing in force (what the next request will see)."""
    policy, routing = model.policy, model.routing
    return {
        "model": model.name,
        "policy": {"version_policy": policy.kind, "versions": list(policy.versions),
                   "canary_percent": policy.canary_percent, "stable": policy.stable,
                   "rejected": list(policy.rejected)},
        "routing": {"stable": routing.stable.version if routing.stable else None,
                    "canary": routing.canary.version if routing.canary else None,
                    "canary_percent": routing.percent, "served": sorted(routing.served),
                    "labels": routing.labels},
        "on_disk": model.on_disk,
    }
