import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors/index.js';
import { authorize, credential, isLoopback, keyRing } from './index.js';

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

describe('credential', () => {
  const sigV4 = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/eu-west-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc';
  it('takes X-Api-Key when the Authorization header carries another scheme (a SigV4-signed function URL request)', () => {
    expect(authorize(credential(sigV4, 'read-0123456789abcdef'), 'read', ring)).toBe('read');
    expect(credential(undefined, 'admin-0123456789abcdef')).toBe('Bearer admin-0123456789abcdef');
  });

  it('lets a Bearer header win, and leaves a request without X-Api-Key as it was', () => {
    expect(credential('Bearer read-0123456789abcdef', 'admin-0123456789abcdef')).toBe('Bearer read-0123456789abcdef');
    expect(code(() => authorize(credential(sigV4, undefined), 'read', ring))).toBe('401 UNAUTHORIZED');
    expect(code(() => authorize(credential(sigV4, 'not-a-key'), 'read', ring))).toBe('401 UNAUTHORIZED');
  });
});

describe('isLoopback', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.org', '128.0.0.1']) expect(isLoopback(h)).toBe(false);
  });
});
