"""The local web app (status only for now; the admin UI grows here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

if TYPE_CHECKING:
    from appliance.app import Controller


def build_web_app(ctl: Controller) -> FastAPI:
    """The web app served on the LAN port."""
    app = FastAPI(title="Edge appliance", version="0.1.0")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/status")
    async def status() -> dict[str, Any]:
        load = ctl.sessions.placement.load()
        return {
            "workers": [
                {"name": n, "legs_reserved": used, "capacity": cap} for n, (used, cap) in load.items()
            ],
            "sessions": len(ctl.sessions.sessions),
        }

    return app
