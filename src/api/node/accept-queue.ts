/**
 * How many connections wait in a listening socket's accept queue: completed by the kernel, not yet
 * accepted by the process. Closing the listener resets every one of them, requests already sent on
 * them included, and Node accepts one connection per event-loop iteration, so after a blocked loop the
 * queue can be long. Graceful shutdown reads it to accept them all before it stops listening.
 */
import { readFileSync } from 'node:fs';

const PROC_TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];
const LISTEN = '0A';

/**
 * Sums the accept queues of the LISTEN rows for `port` in a /proc/net/tcp or tcp6 table (for a
 * listening socket the `rx_queue` column is its accept-queue length).
 *
 * @example
 * parseAcceptQueue('  0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 ...', 8080); // 3
 */
export function parseAcceptQueue(table: string, port: number): number {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  let waiting = 0;
  for (const line of table.split('\n')) {
    // sl, local_address, rem_address, st, tx_queue:rx_queue, ...
    const [, local, , state, queues] = line.trim().split(/\s+/);
    if (state !== LISTEN || !local?.endsWith(`:${portHex}`) || !queues) continue;
    const rx = Number.parseInt(queues.split(':')[1] ?? '', 16);
    if (Number.isFinite(rx)) waiting += rx;
  }
  return waiting;
}

/**
 * The accept-queue length of the listener on `port`, or null where the kernel does not expose it
 * (not Linux, or /proc unreadable): callers then fall back to watching for new connections.
 *
 * @example
 * const waiting = acceptQueueLength((server.address() as AddressInfo).port) ?? 0;
 */
export function acceptQueueLength(port: number): number | null {
  if (process.platform !== 'linux') return null;
  let found = false;
  let waiting = 0;
  for (const file of PROC_TABLES) {
    let table: string;
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    found = true;
    waiting += parseAcceptQueue(table, port);
  }
  return found ? waiting : null;
}
