/**
 * The one shared memory region of a tsgi instance: the master creates it (an anonymous memfd),
 * every worker inherits its fd as an extra stdio fd and maps it, and all of them then read and
 * write the scoreboard, cache, queue and signal table in place, with no round trip through the
 * master (issue 4). uWSGI does the same with mmap(MAP_SHARED|MAP_ANON) before fork(); Node
 * cannot fork, so the memory travels as an fd instead.
 *
 * Layout (all numbers little-endian, as the machine writes them):
 *
 *   0      u32 magic 'TSGR'   u32 version   f64 total size   u32 area count   u32 creator pid
 *   64     area table: per area 64 bytes: name (UTF-8, NUL-padded, ≤ 47 bytes), f64 offset, f64 size
 *   …      areas, in layout order, each starting on a page boundary (4096) so that no two
 *          areas share a page and every area is aligned for any typed-array view
 *
 * The layout is a plain `{ name: bytes }` object that master and workers compute from the same
 * options; {@link mapRegion} checks the header against it, so a worker of another version or
 * configuration fails loudly (TSGI_ERR_SHM) instead of reading garbage. An area of size 0 is
 * allowed and simply absent (e.g. no `--queue`).
 */
import { fstatSync } from 'node:fs';
import { native } from '../native.js';
import { tsgiError } from '../errors.js';

/** Area name → size in bytes, in the order the areas are laid out. */
export type RegionLayout = Readonly<Record<string, number>>;

/** A named slice of the region: typed-array views are made with `(buffer, byteOffset, …)`. */
export interface Area {
  readonly name: string;
  readonly buffer: ArrayBuffer;
  /** Offset of the area inside `buffer`; a multiple of {@link AREA_ALIGN}. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface Region {
  /** The memfd: pass it to workers (spawn stdio), keep it open to spawn more. */
  readonly fd: number;
  /** The whole mapping. */
  readonly buffer: ArrayBuffer;
  /** Areas by name, in layout order (areas of size 0 are left out). */
  readonly areas: ReadonlyMap<string, Area>;
  /** The area `name`; throws TSGI_ERR_SHM if the layout has no such area. */
  area(name: string): Area;
  /**
   * Closes the fd (idempotent). The mapping stays valid until the buffer is garbage collected;
   * the memory itself goes away with the last fd and mapping of any process.
   */
  close(): void;
}

const MAGIC = 0x52475354; // 'TSGR' as little-endian bytes
const VERSION = 1;
const HEADER_BYTES = 64;
const ENTRY_BYTES = 64;
const NAME_BYTES = 48;
/** Areas start on page boundaries. */
export const AREA_ALIGN = 4096;

const alignUp = (value: number, to: number) => Math.ceil(value / to) * to;

function checkedEntries(layout: RegionLayout): Array<[string, number]> {
  const entries = Object.entries(layout);
  for (const [name, size] of entries) {
    if (name === '' || Buffer.byteLength(name) >= NAME_BYTES) {
      throw tsgiError('TSGI_ERR_SHM', `region area name ${JSON.stringify(name)} must be 1-${NAME_BYTES - 1} bytes`);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw tsgiError('TSGI_ERR_SHM', `region area ${name}: size ${size} is not a byte count`);
    }
  }
  return entries.filter(([, size]) => size > 0);
}

interface Placement {
  name: string;
  offset: number;
  size: number;
}

function place(layout: RegionLayout): { total: number; placements: Placement[] } {
  const entries = checkedEntries(layout);
  let offset = alignUp(HEADER_BYTES + ENTRY_BYTES * entries.length, AREA_ALIGN);
  const placements = entries.map(([name, size]) => {
    const placement = { name, offset, size };
    offset = alignUp(offset + size, AREA_ALIGN);
    return placement;
  });
  return { total: offset, placements };
}

/** Bytes the region for `layout` takes (header, table and page-aligned areas). */
export function regionSize(layout: RegionLayout): number {
  return place(layout).total;
}

function makeRegion(fd: number, buffer: ArrayBuffer, placements: Placement[]): Region {
  const areas = new Map<string, Area>();
  for (const { name, offset, size } of placements) areas.set(name, Object.freeze({ name, buffer, byteOffset: offset, byteLength: size }));
  let open = true;
  return {
    fd,
    buffer,
    areas,
    area(name: string): Area {
      const area = areas.get(name);
      if (area === undefined) throw tsgiError('TSGI_ERR_SHM', `the shared region has no ${JSON.stringify(name)} area (it has: ${[...areas.keys()].join(', ') || 'none'})`);
      return area;
    },
    close(): void {
      if (!open) return;
      open = false;
      native.close(fd);
    },
  };
}

function shmFailure(what: string, cause: unknown): never {
  const detail = cause instanceof Error ? cause.message : String(cause);
  throw tsgiError('TSGI_ERR_SHM', `${what}: ${detail}`, { cause });
}

/**
 * Master: creates the memfd for `layout`, maps it and writes the header. The memory starts
 * zeroed; each area's owner (cache, queue, …) formats its own area afterwards.
 */
export function createRegion(layout: RegionLayout, name = 'tsgi'): Region {
  const { total, placements } = place(layout);
  let fd: number;
  try {
    fd = native.shmCreate(name, total);
  } catch (cause) {
    shmFailure(`cannot create the shared memory region (${total} bytes)`, cause);
  }
  let buffer: ArrayBuffer;
  try {
    buffer = native.shmMap(fd, total);
  } catch (cause) {
    native.close(fd);
    shmFailure(`cannot map the shared memory region (${total} bytes)`, cause);
  }
  const view = new DataView(buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setFloat64(8, total, true);
  view.setUint32(16, placements.length, true);
  view.setUint32(20, process.pid, true);
  const bytes = Buffer.from(buffer);
  placements.forEach(({ name: areaName, offset, size }, i) => {
    const entry = HEADER_BYTES + i * ENTRY_BYTES;
    bytes.write(areaName, entry, NAME_BYTES - 1, 'utf8');
    view.setFloat64(entry + NAME_BYTES, offset, true);
    view.setFloat64(entry + NAME_BYTES + 8, size, true);
  });
  return makeRegion(fd, buffer, placements);
}

/**
 * Worker: maps the region behind the inherited `fd` and checks that its header describes
 * exactly `layout` (same areas, sizes and offsets). Throws TSGI_ERR_SHM otherwise, before any
 * area is touched.
 */
export function mapRegion(fd: number, layout: RegionLayout): Region {
  const { total, placements } = place(layout);
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (cause) {
    shmFailure(`fd ${fd} is not the shared memory region`, cause);
  }
  if (size !== total) {
    throw tsgiError('TSGI_ERR_SHM', `the shared memory region (fd ${fd}) is ${size} bytes, but this process's layout needs ${total} (${describe(placements)}): master and worker disagree on the options or the tsgi version`);
  }
  let buffer: ArrayBuffer;
  try {
    buffer = native.shmMap(fd, total);
  } catch (cause) {
    shmFailure(`cannot map the shared memory region (fd ${fd})`, cause);
  }
  const view = new DataView(buffer);
  const found: Placement[] = [];
  const count = view.getUint32(16, true);
  if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION || view.getFloat64(8, true) !== total || count > 1024) {
    throw tsgiError('TSGI_ERR_SHM', `fd ${fd} does not hold a tsgi shared region of version ${VERSION} and ${total} bytes`);
  }
  const bytes = Buffer.from(buffer);
  for (let i = 0; i < count; i++) {
    const entry = HEADER_BYTES + i * ENTRY_BYTES;
    const end = bytes.indexOf(0, entry);
    found.push({
      name: bytes.toString('utf8', entry, end < 0 || end > entry + NAME_BYTES ? entry + NAME_BYTES : end),
      offset: view.getFloat64(entry + NAME_BYTES, true),
      size: view.getFloat64(entry + NAME_BYTES + 8, true),
    });
  }
  if (describe(found) !== describe(placements)) {
    throw tsgiError('TSGI_ERR_SHM', `the shared memory region (fd ${fd}) holds ${describe(found)}, but this process expects ${describe(placements)}: master and worker disagree on the options or the tsgi version`);
  }
  return makeRegion(fd, buffer, placements);
}

function describe(placements: Placement[]): string {
  return placements.map(({ name, offset, size }) => `${name} ${size}@${offset}`).join(', ') || 'no areas';
}

