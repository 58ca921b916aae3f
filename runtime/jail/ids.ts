/**
 * Users and groups by name or number, through the system databases (NSS, as getpwnam does),
 * so `--uid www-data` and `--uid 33` mean the same and a typo fails the start, not a worker.
 */
import { tsgiError } from '../errors.js';
import { native, type JailId } from '../native.js';

function user(text: string, option: string): JailId {
  const found = native.lookupUser(text);
  if (found === null) throw tsgiError('TSGI_ERR_JAIL_UNKNOWN_ID', `--${option} ${text}: no such user`);
  return found;
}

function group(text: string, option: string): number {
  const found = native.lookupGroup(text);
  if (found !== null) return found.gid;
  // A number nobody named is still a valid gid for setgid and chown, as in uWSGI.
  if (/^\d+$/.test(text)) return Number(text);
  throw tsgiError('TSGI_ERR_JAIL_UNKNOWN_ID', `--${option} ${text}: no such group`);
}

/** Who to become: `--uid` and `--gid`, the gid defaulting to the user's primary group. */
export interface Identity {
  uid?: number;
  gid?: number;
  /** The user's name, for initgroups (absent when --uid is a number passwd does not know). */
  userName?: string;
}

export function identity(uid: string | undefined, gid: string | undefined): Identity {
  const found = uid === undefined ? undefined : /^\d+$/.test(uid) ? native.lookupUser(uid) ?? undefined : user(uid, 'uid');
  const result: Identity = {};
  if (uid !== undefined) result.uid = found?.uid ?? Number(uid);
  if (found !== undefined) result.userName = found.name;
  if (gid !== undefined) result.gid = group(gid, 'gid');
  else if (found !== undefined) result.gid = found.gid;
  return result;
}

/** `--chown-socket USER[:GROUP]`: the group defaults to the user's primary group. */
export function socketOwner(spec: string): { uid: number; gid: number } {
  const [userText = '', groupText] = spec.split(':', 2);
  const owner = user(userText, 'chown-socket');
  return { uid: owner.uid, gid: groupText ? group(groupText, 'chown-socket') : owner.gid };
}
