"""In-memory fakes of the ports, with the semantics of the real adapters."""
