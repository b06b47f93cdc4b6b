"""Test helpers shared across test packages (real servers, no mocks)."""
