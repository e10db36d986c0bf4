"""Test helpers shared by several test files (real parts only: no mocks)."""
