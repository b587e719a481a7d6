"""The pure domain: models, names and matching, certificates, quota ledger rules, state machines. No I/O."""
