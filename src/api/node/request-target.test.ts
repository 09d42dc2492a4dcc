import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { describe, expect, it } from 'vitest';
import { hasDotSegment, recordRequestTarget, sentPath } from './request-target.js';

/** Sends `target` byte for byte on a raw socket and returns the response body. */
async function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
    socket.on('end', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
    socket.on('error', reject);
  });
}

describe('request targets', () => {
  it('@hono/node-server hands the app a URL with "." and ".." resolved; the recorded target keeps them', async () => {
    const server = createAdaptorServer({
      fetch: (request, { incoming }) => {
        recordRequestTarget(request, incoming.url ?? '/');
        return Response.json({ url: new URL(request.url).pathname, sent: sentPath(request) });
      },
    }) as Server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      expect(JSON.parse(await rawGet(port, '/v1/gallery/x/../y?k=1'))).toEqual({ url: '/v1/gallery/y', sent: '/v1/gallery/x/../y' });
      expect(JSON.parse(await rawGet(port, '/v1/gallery/x/%2E%2e/y'))).toEqual({ url: '/v1/gallery/y', sent: '/v1/gallery/x/%2E%2e/y' });
      expect(JSON.parse(await rawGet(port, `http://127.0.0.1:${port}/v1/gallery/a/./b#f`))).toEqual({ url: '/v1/gallery/a/b', sent: '/v1/gallery/a/./b' });
      expect(JSON.parse(await rawGet(port, '/v1/gallery/a%2F..%2Fb'))).toEqual({ url: '/v1/gallery/a%2F..%2Fb', sent: '/v1/gallery/a%2F..%2Fb' });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('without a recorded target there is no sent path', () => {
    expect(sentPath(new Request('http://h/v1/gallery/x/../y'))).toBeUndefined();
  });

  it('finds "." and ".." segments in every spelling URL parsing resolves, and only whole segments', () => {
    for (const path of ['/a/../b', '/a/./b', '/a/..', '/a/.', '/a/%2e%2E/b', '/a/.%2e/b', '/a/%2e./b', '/a/%2E/b']) expect({ path, dot: hasDotSegment(path) }).toEqual({ path, dot: true });
    for (const path of ['/a/b', '/a/..b', '/a/b..', '/a/...', '/a/..%2Fb', '/a%2F..%2Fb', '/a/%252e%252e/b', '/a/.hidden']) expect({ path, dot: hasDotSegment(path) }).toEqual({ path, dot: false });
  });
});
