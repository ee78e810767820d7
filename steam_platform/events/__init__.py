"""Events on the bus: the versioned envelope, payload validation and dead-letter records."""
