import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { acceptQueueLength, parseAcceptQueue } from './accept-queue.js';

const TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C8AA 01 00000000:0000001A 00:00000000 00000000  1000        0 2 1 0 20 4 30 10 -1
   2: 00000000:1F91 00000000:0000 0A 00000000:00000007 00:00000000 00000000  1000        0 3 1 0 100 0 0 10 0
`;

describe('parseAcceptQueue', () => {
  it("reads the LISTEN row's rx_queue for the port, ignoring connections and other ports", () => {
    expect(parseAcceptQueue(TABLE, 8080)).toBe(3);
    expect(parseAcceptQueue(TABLE, 8081)).toBe(7);
    expect(parseAcceptQueue(TABLE, 9999)).toBe(0);
    expect(parseAcceptQueue('', 8080)).toBe(0);
  });
});

describe.runIf(process.platform === 'linux')('acceptQueueLength (Linux)', () => {
  it('counts connections the kernel completed while this process was not accepting', async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      expect(acceptQueueLength(port)).toBe(0);
      // A client in another process opens 5 connections while this loop is blocked and cannot accept.
      const client = spawn(process.execPath, ['-e', `
        for (let i = 0; i < 5; i++) require('node:net').connect(${port}, '127.0.0.1').on('error', () => {});
        setTimeout(() => process.exit(0), 5000);
      `], { stdio: 'ignore' });
      const giveUp = performance.now() + 10_000;
      let waiting = 0;
      while (performance.now() < giveUp && (waiting = acceptQueueLength(port)!) < 5);
      expect(waiting).toBe(5);
      client.kill();
    } finally {
      server.close();
    }
  });
});
