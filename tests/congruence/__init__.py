"""The congruence suite: the same tests on the embedded API and on the HTTP client."""
