import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

export interface RedisProxy {
  /** A Redis URL that reaches the real Redis through the proxy. */
  url: string;
  /** "Redis stopped": every open connection is dropped and new ones are refused. */
  cut(): void;
  /** Connections go through again. */
  restore(): void;
  close(): Promise<void>;
}

/** A loopback proxy in front of Redis stands in for the network: cutting it is "Redis stopped". */
export async function startRedisProxy(): Promise<RedisProxy> {
  const sockets = new Set<Socket>();
  let open = true;
  const proxy: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = new Socket();
    upstream.connect(6379, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    url: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    cut() {
      open = false;
      destroyAll();
    },
    restore() {
      open = true;
    },
    close: async () => {
      destroyAll();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
