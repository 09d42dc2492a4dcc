import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors/index.js';
import { authorize, isLoopback, keyRing } from './index.js';

const ring = keyRing({ readKeys: ['read-0123456789abcdef', 'read2-0123456789abcdef'], adminKeys: ['admin-0123456789abcdef'] });
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (error) {
    return error instanceof ApiError ? `${error.status} ${error.code}` : 'other';
  }
};

describe('authorize', () => {
  it('grants read to read and admin keys, admin only to admin keys', () => {
    expect(authorize('Bearer read-0123456789abcdef', 'read', ring)).toBe('read');
    expect(authorize('bearer  read2-0123456789abcdef ', 'read', ring)).toBe('read');
    expect(authorize('Bearer admin-0123456789abcdef', 'read', ring)).toBe('admin');
    expect(authorize('Bearer admin-0123456789abcdef', 'admin', ring)).toBe('admin');
    expect(code(() => authorize('Bearer read-0123456789abcdef', 'admin', ring))).toBe('403 FORBIDDEN');
  });

  it('answers 401 for no, malformed or unknown keys (including prefixes and case changes of a real key)', () => {
    for (const header of [undefined, '', 'Bearer', 'Basic read-0123456789abcdef', 'Bearer read-0123456789abcde', 'Bearer READ-0123456789ABCDEF', 'Bearer read-0123456789abcdef x']) {
      expect(code(() => authorize(header, 'read', ring))).toBe('401 UNAUTHORIZED');
    }
  });

  it('is open when no key is configured', () => {
    expect(authorize(undefined, 'admin', keyRing({ readKeys: [], adminKeys: [] }))).toBe('open');
  });

  it('with read keys only, admin routes are closed to everyone', () => {
    const readOnly = keyRing({ readKeys: ['read-0123456789abcdef'], adminKeys: [] });
    expect(code(() => authorize('Bearer read-0123456789abcdef', 'admin', readOnly))).toBe('403 FORBIDDEN');
  });
});

describe('isLoopback', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.org', '128.0.0.1']) expect(isLoopback(h)).toBe(false);
  });
});
