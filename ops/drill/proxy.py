"""One address in front of the API processes: a round-robin TCP proxy, as the ALB is in AWS.

`python -m ops.drill.proxy PORT HOST:PORT [HOST:PORT ...]`. Each new connection goes to the next
backend; one that refuses is skipped, so a stopped API process costs no request. Written here
rather than run as haproxy or nginx: it is fifty lines of asyncio, needs no system package on a
developer's machine or in CI, and connection-level round robin with failover is all the drill
asks of a load balancer (it does not terminate TLS or look at HTTP).
"""

import asyncio
import itertools
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def serve(port: int, backends: list[tuple[str, int]]) -> None:
    turn = itertools.cycle(range(len(backends)))

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        for _ in backends:
            host, backend_port = backends[next(turn)]
            try:
                server_r, server_w = await asyncio.open_connection(host, backend_port)
            except OSError:
                continue
            await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))
            return
        client_w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    port, *targets = argv
    backends = [(host, int(p)) for host, p in (target.rsplit(":", 1) for target in targets)]
    asyncio.run(serve(int(port), backends))


if __name__ == "__main__":
    main(sys.argv[1:])
