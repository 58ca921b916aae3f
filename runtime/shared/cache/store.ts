/**
 * `--cache-store FILE` maps the same layout (layout.ts) from a regular file ({@link openCacheStore}),
 * so the cache survives restarts; the header must match the options or startup fails
 * (TSGI_ERR_CACHE_STORE).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { native, type NativeSystemError } from '../../native.js';
import { tsgiError } from '../../errors.js';
import { LOCK_BYTES } from '../lock.js';
import { cacheAreaSize, describeGeometry, Format, geometry, H } from './layout.js';
import { SharedCache } from './shared-cache.js';
import type { CacheOptions } from './types.js';

/** Reads the geometry a store file was written with, from its first bytes; undefined if it is not a cache file. */
function readStoreHeader(path: string): { items: number; blocksize: number; keysize: number; buckets: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(LOCK_BYTES + 32);
    if (readSync(fd, head, 0, head.length, 0) < head.length) return undefined;
    const word = (i: number) => head.readInt32LE(i * 4);
    if (word(H.MAGIC) !== Format.MAGIC || word(H.VERSION) !== Format.VERSION) return undefined;
    return { items: word(H.ITEMS), blocksize: word(H.BLOCKSIZE), keysize: word(H.KEYSIZE), buckets: word(H.BUCKETS) };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function storeError(path: string, options: CacheOptions, detail: string, cause?: unknown): never {
  const g = geometry(options);
  throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${detail}; this instance has ${describeGeometry(g)}: start tsgi with the options the file was made with, or move the file away to start with an empty cache`, cause === undefined ? undefined : { cause });
}

function mapStore(path: string, options: CacheOptions): ArrayBuffer {
  const size = cacheAreaSize(options);
  let fd: number;
  try {
    fd = native.shmOpenFile(path, size);
  } catch (cause) {
    const error = cause as NativeSystemError;
    if (error.code === 'EINVAL') {
      const found = readStoreHeader(path);
      storeError(path, options, found ? `the file was written with ${describeGeometry(found)}` : `${error.message.replace(/^shmOpenFile \S+: /, '')}, and is not a tsgi cache store`, cause);
    }
    throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${error.message}`, { cause });
  }
  try {
    return native.shmMap(fd, size);
  } catch (cause) {
    throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${(cause as Error).message}`, { cause });
  } finally {
    native.close(fd);
  }
}

/**
 * Master, at startup: opens (or creates) the `--cache-store` file and returns the cache in it.
 * A new file is formatted; an existing one must have been written with the same items,
 * blocksize, keysize and buckets (else TSGI_ERR_CACHE_STORE naming both). The previous run's
 * lock word is discarded (its pid is meaningless now) and the index is rebuilt from the items,
 * since that run may have been killed in the middle of a write. Workers then use
 * {@link attachCacheStore} on the same path.
 */
export function openCacheStore(path: string, options: CacheOptions): SharedCache {
  const buffer = mapStore(path, options);
  const area = { buffer, byteOffset: 0, byteLength: buffer.byteLength };
  const head = new Int32Array(buffer, 0, LOCK_BYTES / 4 + 8);
  if (head.every((word) => word === 0)) return SharedCache.format(area, options);
  const found = readStoreHeader(path);
  const wanted = geometry(options);
  if (found === undefined) storeError(path, options, 'the file is not a tsgi cache store (no TSGC header of this version)');
  if (found.items !== wanted.items || found.blocksize !== wanted.blocksize || found.keysize !== wanted.keysize || found.buckets !== wanted.buckets) {
    storeError(path, options, `the file was written with ${describeGeometry(found)}`);
  }
  const cache = SharedCache.attach(area, options);
  cache.lock.reset(); // flags it dirty: the next operation (this one) rebuilds the index
  cache.verify();
  return cache;
}

/** Worker: maps the `--cache-store` file the master opened with {@link openCacheStore}. */
export function attachCacheStore(path: string, options: CacheOptions): SharedCache {
  const buffer = mapStore(path, options);
  try {
    return SharedCache.attach({ buffer, byteOffset: 0, byteLength: buffer.byteLength }, options);
  } catch (cause) {
    throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${(cause as Error).message}`, { cause });
  }
}
