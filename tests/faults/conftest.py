"""The flow tests' real DVC project, for the fault tests."""

from tests.flows.conftest import project  # noqa: F401
