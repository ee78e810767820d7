"""How the platform runs itself: the lake sensor and the declarative conditions after it."""
