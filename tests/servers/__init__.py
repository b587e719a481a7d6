"""Wire-level test servers that stand in for cloud services (real protocol, loopback, ephemeral ports)."""
