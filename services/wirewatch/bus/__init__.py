"""Message-bus adapters: Kafka (aiokafka) for production, in-process for embedded runs."""
