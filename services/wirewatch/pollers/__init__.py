"""Sources: RSS/Atom/JSON Feed and live-blog pollers that emit raw items."""
