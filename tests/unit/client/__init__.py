"""Unit tests of the HTTP client (no server: httpx.MockTransport stands in for it)."""
