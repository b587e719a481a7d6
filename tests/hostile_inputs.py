"""Hostile inputs of issue 10 "Hostile clients", built cheaply for tests and bench/hostile.py."""

from __future__ import annotations


def repeated_begin_lines(size: int) -> str:
    """`-----BEGIN A-----` lines up to `size` characters: quadratic for a backtracking PEM regex."""
    line = "-----BEGIN A-----\n"
    return line * (size // len(line))
