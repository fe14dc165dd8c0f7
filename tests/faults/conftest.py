"""The flow tests' real DVC project and Prefect harness, for the fault tests."""

from tests.flows.conftest import prefect_harness, project  # noqa: F401
