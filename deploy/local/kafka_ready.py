"""Exit 0 when the Kafka broker at argv[1] answers a metadata request."""

import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def main(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await asyncio.wait_for(admin.start(), 5)
    try:
        await asyncio.wait_for(admin.describe_cluster(), 5)
    finally:
        await admin.close()


try:
    asyncio.run(main(sys.argv[1]))
except Exception as exc:
    print(f"kafka not ready: {exc}", file=sys.stderr)
    sys.exit(1)
