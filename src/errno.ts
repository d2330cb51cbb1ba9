/**
 * errno as nginx prints it after a failed system call: `2: No such file or directory`. Node reports the symbolic code
 * (`ENOENT`); operators grep their logs for nginx's numeric form, so every error line uses this one table.
 */
const TEXT: Readonly<Record<string, string>> = {
  EPERM: '1: Operation not permitted',
  ENOENT: '2: No such file or directory',
  EIO: '5: Input/output error',
  EBADF: '9: Bad file descriptor',
  EACCES: '13: Permission denied',
  ENOTDIR: '20: Not a directory',
  EISDIR: '21: Is a directory',
  ENFILE: '23: Too many open files in system',
  EMFILE: '24: Too many open files',
  ENOSPC: '28: No space left on device',
  EROFS: '30: Read-only file system',
  EMLINK: '31: Too many links',
  EPIPE: '32: Broken pipe',
  ENAMETOOLONG: '36: File name too long',
  ELOOP: '40: Too many levels of symbolic links',
  EADDRINUSE: '98: Address already in use',
  ENETUNREACH: '101: Network is unreachable',
  ECONNRESET: '104: Connection reset by peer',
  ETIMEDOUT: '110: Connection timed out',
  ECONNREFUSED: '111: Connection refused',
  EHOSTUNREACH: '113: No route to host',
  EDQUOT: '122: Disk quota exceeded',
}

/** `2: No such file or directory` for a failed call's error (`N: CODE` for one outside the table). */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException | null
  const code = err?.code ?? 'EIO'
  return TEXT[code] ?? `${Math.abs(err?.errno ?? 0)}: ${code}`
}
