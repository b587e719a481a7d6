"""Acceptance: `certdeploy serve` as a child process, driven by the official CAS SDK, the admin CLI and nothing else."""
