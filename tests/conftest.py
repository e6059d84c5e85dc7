"""Shared fixtures. Sandbox fixtures live in plugin modules so each CRM's owner edits its own file."""

pytest_plugins: list[str] = ["tests.fixtures_salesforce", "tests.fixtures_hubspot", "tests.faults.summary"]
