"""The web tests' boxes (a controller with its web app, users in each role) for the trunk API tests."""

from tests.unit.web.conftest import box, fresh

__all__ = ["box", "fresh"]
