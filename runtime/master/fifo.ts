/**
 * `--master-fifo PATH` (uWSGI's master FIFO): the master creates a named pipe and reads one-byte
 * commands from it (fifo-commands.ts). Several may be given; the first is active, and the
 * commands `0`-`9` make another one active (the previous one is closed and removed, so a writer
 * can never block on a FIFO nobody reads).
 *
 * The FIFO is opened O_RDWR | O_NONBLOCK and read through a net.Socket (a libuv pipe on epoll):
 * holding a write end ourselves means the reader never sees EOF when a writer closes, so there
 * is no reopen loop and no busy read; and unlike fs.createReadStream no thread-pool thread sits
 * blocked in read(2). Bytes are queued and run on the master's next pass, in order.
 */
import { spawnSync } from 'node:child_process';
import { constants, openSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { tsgiError } from '../errors.js';
import { log } from '../logger.js';
import { runFifoCommand, type FifoControl } from './fifo-commands.js';
import type { MasterHost, Subsystem } from './subsystem.js';

export class MasterFifo implements Subsystem, FifoControl {
  readonly name = 'master-fifo';
  #host!: MasterHost;
  #paths: readonly string[] = [];
  #active = -1;
  #reader: Socket | null = null;
  readonly #queue: number[] = [];

  start(host: MasterHost): void {
    this.#host = host;
    this.#paths = [...host.options['master-fifo']];
    if (this.#paths.length > 0) this.#open(0);
  }

  cycle(): void {
    for (let byte = this.#queue.shift(); byte !== undefined; byte = this.#queue.shift()) runFifoCommand(byte, this, this.#host);
  }

  get activePath(): string | undefined {
    return this.#paths[this.#active];
  }

  select(slot: number): void {
    if (slot >= this.#paths.length) return log(`master FIFO ${slot}: no such slot (${this.#paths.length} --master-fifo given), ${this.activePath} stays active`);
    if (slot === this.#active) return log(`master FIFO ${slot}: ${this.activePath} is already active`);
    this.#switchTo(slot, `master FIFO ${slot}: now reading ${this.#paths[slot]}`);
  }

  /** `f`: the FIFO made afresh (a deleted or replaced path works again). */
  reopen(): void {
    this.#switchTo(this.#active, `master FIFO f: ${this.activePath} reopened (a Node master cannot re-fork itself; r reloads every worker instead)`);
  }

  #switchTo(slot: number, line: string): void {
    const previous = this.#active;
    this.#shut();
    try {
      this.#open(slot);
      log(line);
    } catch (error) {
      log(`master FIFO: ${(error as Error).message}; reopening ${this.#paths[previous]}`);
      this.#open(previous);
    }
  }

  #open(slot: number): void {
    const path = this.#paths[slot]!;
    makeFifo(path);
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    const reader = new Socket({ fd, readable: true, writable: false });
    reader.on('data', (chunk: Buffer) => {
      this.#queue.push(...chunk);
      this.#host.wake();
    });
    reader.on('error', (error) => log(`master FIFO ${path}: ${error.message}`));
    reader.unref();
    this.#reader = reader;
    this.#active = slot;
  }

  #shut(): void {
    this.#reader?.destroy();
    this.#reader = null;
    const path = this.activePath;
    if (path !== undefined) removeQuietly(path);
  }

  close(): void {
    this.#shut();
  }
}

/**
 * Node has no mkfifo(3), so the coreutils `mkfifo` command makes it (once at start, once per
 * slot switch: never on a hot path). Whatever is at the path goes first, as in uWSGI.
 */
function makeFifo(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw tsgiError('TSGI_ERR_FIFO_CREATE', `--master-fifo ${path}: ${(error as Error).message}`);
  }
  const made = spawnSync('mkfifo', ['-m', '600', path], { encoding: 'utf8' });
  if (made.error) throw tsgiError('TSGI_ERR_FIFO_CREATE', `--master-fifo ${path}: cannot run mkfifo: ${made.error.message}`);
  if (made.status !== 0) throw tsgiError('TSGI_ERR_FIFO_CREATE', `--master-fifo ${path}: ${made.stderr.trim() || `mkfifo exited ${made.status}`}`);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
