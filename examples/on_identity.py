"""React to people being recognised: print a line for every ``identity.resolved`` event.

    python examples/on_identity.py [REDIS_URL] [--replay]

REDIS_URL defaults to the embedded server of ``facetrack run`` (its socket ``data/redis/redis.sock``, its
password read from ``data/redis/password``); ``--replay`` starts from the oldest event the stream keeps instead
of from now.
"""

import asyncio
import sys
from pathlib import Path

from pipelines.events.redis_server import embedded_url
from pipelines.events.subscriber import subscribe


async def main(url: str, replay: bool) -> None:
    async for event in subscribe(url, types={"identity.resolved"}, since="0" if replay else "$"):
        print(f"{event.name} is at camera {event.camera} (track {event.track_id}, distance {event.distance:.3f})",
              flush=True)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    try:
        asyncio.run(main(args[0] if args else embedded_url(Path("data/redis")), "--replay" in sys.argv))
    except KeyboardInterrupt:
        pass
