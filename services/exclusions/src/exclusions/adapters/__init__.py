"""Adapters: ORM mapping and repositories."""
