"""Entry points: turn input (HTTP, messages, CLI) into commands."""
