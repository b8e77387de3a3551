"""The text analysis and Lucene query language shared by rule matching, indexing and search."""
