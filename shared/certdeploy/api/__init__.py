"""The CAS 2020-04-07 RPC protocol layer: request parsing, signature verification, and the CAS error format."""
