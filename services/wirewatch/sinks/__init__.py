"""Sinks: Elasticsearch indexer, webhook notifier, search from the shell."""
