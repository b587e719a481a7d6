"""Ports: what the use cases need from the outside world, one module per concern. Adapters implement them; the
domain never sees them. Import from the submodule that defines a name."""
