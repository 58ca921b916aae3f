/** The namespaces `--unshare` accepts: the ones a master can enter and still respawn its children in. */
export const NAMESPACES = ['mount', 'ipc', 'uts', 'net'] as const;
export type Namespace = (typeof NAMESPACES)[number];
