"""Reference implementations of the LRU cache (spec/lru.md)."""
