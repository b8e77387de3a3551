"""What every service shares: settings, schemas, logging, metrics, errors."""
