"""Reference implementations of the rate limiter (spec/ratelimit.md)."""
