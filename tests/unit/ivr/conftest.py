"""The web tests' real controller and logged-in clients, for the IVR, voicemail and prompt APIs."""

from tests.unit.web.conftest import box, fresh  # noqa: F401  (fixtures)
