/**
 * The model file system under `MemoryTransport`: a tree of files, directories and symbolic links,
 * and the synchronous operations on it (walk a path, make a directory, write a file, remove,
 * rename). An operation returns an `LrmsError` instead of throwing; the transport turns it into a
 * failure.
 *
 * @internal
 * @module
 */
import { LrmsError, type Reason } from "../../LrmsError.ts"
import type { FileInfo } from "../../Transport.ts"
import type { MemoryEntry } from "../MemoryTransport.ts"

/** A regular file of the tree. */
export interface FileNode {
  readonly kind: "File"
  bytes: Uint8Array
  mode: number
  mtime: Date
}

/** A directory of the tree. */
export interface DirNode {
  readonly kind: "Directory"
  readonly children: Map<string, Node>
  mode: number
  mtime: Date
}

/** A symbolic link of the tree. */
export interface LinkNode {
  readonly kind: "SymbolicLink"
  readonly target: string
  mtime: Date
}

/** One entry of the tree. */
export type Node = FileNode | DirNode | LinkNode

/** Where a path leads: the directory that holds it, its name there, and what is there. */
export interface Located {
  readonly parent: DirNode | undefined
  readonly name: string
  readonly node: Node | undefined
  readonly path: string
}

/** The `backend` of every error the model reports. */
export const BACKEND = "memory"
const MAX_LINK_HOPS = 40
const encoder = new TextEncoder()

/** An error of the model. */
export const error = (
  reason: Reason,
  operation: string,
  description: string,
  cause?: unknown,
): LrmsError => new LrmsError({ reason, backend: BACKEND, operation, description, cause })

/** A path's segments, `.` and `..` resolved lexically. */
const splitPath = (path: string): Array<string> => {
  const out: Array<string> = []
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue
    if (s === "..") out.pop()
    else out.push(s)
  }
  return out
}

const joinSegments = (segments: ReadonlyArray<string>): string => "/" + segments.join("/")

/** An absolute path without `.`, `..` or repeated slashes. */
export const normalize = (path: string): string => joinSegments(splitPath(path))

/** The directory holding an absolute path. */
export const dirname = (path: string): string => path.replace(/\/[^/]*$/, "") || "/"

/** What `stat` reports for a node. */
export const info = (node: Node): FileInfo =>
  node.kind === "File"
    ? { type: "File", size: node.bytes.length, mtime: node.mtime, mode: node.mode }
    : node.kind === "Directory"
    ? { type: "Directory", size: 4096, mtime: node.mtime, mode: node.mode }
    : {
      type: "SymbolicLink",
      size: encoder.encode(node.target).length,
      mtime: node.mtime,
      mode: 0o777,
    }

/** What the test handles report for a node (a copy of a file's bytes). */
export const entryOf = (node: Node): MemoryEntry =>
  node.kind === "File"
    ? { type: "File", bytes: node.bytes.slice(), mode: node.mode, mtime: node.mtime }
    : node.kind === "Directory"
    ? { type: "Directory", mode: node.mode, mtime: node.mtime }
    : { type: "SymbolicLink", target: node.target, mtime: node.mtime }

/** The tree and its operations; relative paths start at `home`. */
export interface MemoryFs {
  /** The home directory, normalised. */
  readonly home: string
  /** The absolute, lexically normalised form of a path (relative paths start at home). */
  readonly absolute: (path: string) => string
  /**
   * Walks a path from the root, following symbolic links in the middle (and at the end with
   * `followLast`). Fails with `NotFound` when a parent is missing and `InvalidState` when a
   * parent is a file or links loop.
   */
  readonly locate: (path: string, followLast: boolean, operation: string) => Located | LrmsError
  /** {@linkcode MemoryFs.locate}, and `NotFound` when nothing is there. */
  readonly existing: (
    path: string,
    followLast: boolean,
    operation: string,
  ) => (Located & { readonly node: Node }) | LrmsError
  /** Creates a directory; with `recursive`, its parents, and an existing directory is fine. */
  readonly mkdir: (
    path: string,
    recursive: boolean,
    mode: number,
    operation: string,
  ) => LrmsError | undefined
  /** Creates or replaces a file (a given `mode` replaces the old one's). */
  readonly writeFile: (
    path: string,
    bytes: Uint8Array,
    mode: number | undefined,
    mtime: Date,
    operation: string,
  ) => LrmsError | undefined
  /** Creates a symbolic link, its parents too. */
  readonly symlink: (path: string, target: string, operation: string) => LrmsError | undefined
  /** Removes an entry (a missing one is fine); a non-empty directory needs `recursive`. */
  readonly remove: (path: string, recursive: boolean) => LrmsError | undefined
  /** Moves an entry, replacing a file or an empty directory of the same kind. */
  readonly rename: (from: string, to: string) => LrmsError | undefined
  /** Every file and link under a directory, by path relative to it, sorted. */
  readonly snapshot: (root: string) => Map<string, MemoryEntry>
}

/** What the operations outside `makeFs` use of the tree: walking a path, stamping a directory. */
interface Walk {
  readonly locate: MemoryFs["locate"]
  readonly touch: (dir: DirNode | undefined) => void
}

const remove = (t: Walk, path: string, recursive: boolean): LrmsError | undefined => {
  const at = t.locate(path, false, "remove")
  if (at instanceof LrmsError) return at.reason === "NotFound" ? undefined : at
  const { parent, name, node } = at
  if (node === undefined) return undefined
  if (parent === undefined) return error("InvalidArgument", "remove", "refusing to remove /")
  if (node.kind === "Directory" && node.children.size > 0 && !recursive) {
    return error("InvalidState", "remove", `${path}: directory not empty (use recursive)`)
  }
  parent.children.delete(name)
  t.touch(parent)
  return undefined
}

const rename = (t: Walk, from: string, to: string): LrmsError | undefined => {
  const s = t.locate(from, false, "rename")
  if (s instanceof LrmsError) return s
  if (s.node === undefined) {
    return error("NotFound", "rename", `${from}: no such file or directory`)
  }
  if (s.parent === undefined) return error("InvalidArgument", "rename", "cannot rename /")
  const d = t.locate(to, false, "rename")
  if (d instanceof LrmsError) return d
  if (d.parent === undefined) {
    return error("InvalidState", "rename", `${to}: is the root directory`)
  }
  if (d.path === s.path) return undefined
  if (s.node.kind === "Directory" && d.path.startsWith(`${s.path}/`)) {
    return error("InvalidArgument", "rename", `${to}: inside the directory being moved`)
  }
  if (d.node !== undefined) {
    if (d.node.kind === "Directory" && s.node.kind !== "Directory") {
      return error("InvalidState", "rename", `${to}: is a directory`)
    }
    if (d.node.kind !== "Directory" && s.node.kind === "Directory") {
      return error("InvalidState", "rename", `${to}: not a directory`)
    }
    if (d.node.kind === "Directory" && d.node.children.size > 0) {
      return error("InvalidState", "rename", `${to}: directory not empty`)
    }
  }
  s.parent.children.delete(s.name)
  d.parent.children.set(d.name, s.node)
  t.touch(s.parent)
  t.touch(d.parent)
  return undefined
}

const snapshot = (t: Walk, rootPath: string): Map<string, MemoryEntry> => {
  const out = new Map<string, MemoryEntry>()
  const at = t.locate(rootPath, true, "snapshot")
  if (at instanceof LrmsError || at.node?.kind !== "Directory") return out
  const walk = (dir: DirNode, prefix: string) => {
    for (const name of [...dir.children.keys()].sort()) {
      const node = dir.children.get(name)!
      const rel = prefix === "" ? name : `${prefix}/${name}`
      if (node.kind === "Directory") walk(node, rel)
      else out.set(rel, entryOf(node))
    }
  }
  walk(at.node, "")
  return out
}

/** An empty tree (the root directory only). */
export const makeFs = (home: string, now: () => Date): MemoryFs => {
  const root: DirNode = { kind: "Directory", children: new Map(), mode: 0o755, mtime: now() }
  const normalHome = normalize(home)
  const absolute = (path: string): string =>
    normalize(path.startsWith("/") ? path : `${normalHome}/${path}`)
  const touch = (dir: DirNode | undefined) => {
    if (dir !== undefined) dir.mtime = now()
  }

  const locate = (path: string, followLast: boolean, operation: string): Located | LrmsError => {
    let segments = splitPath(absolute(path))
    let hops = 0
    let dir = root
    let done: Array<string> = []
    let i = 0
    while (i < segments.length) {
      const name = segments[i]!
      const node = dir.children.get(name)
      const last = i === segments.length - 1
      if (node?.kind === "SymbolicLink" && (!last || followLast)) {
        if (++hops > MAX_LINK_HOPS) {
          return error("InvalidState", operation, `${path}: too many levels of symbolic links`)
        }
        const base = node.target.startsWith("/")
          ? node.target
          : `${joinSegments(done)}/${node.target}`
        segments = [...splitPath(base), ...segments.slice(i + 1)]
        dir = root
        done = []
        i = 0
        continue
      }
      if (last) return { parent: dir, name, node, path: joinSegments([...done, name]) }
      if (node === undefined) return error("NotFound", operation, `${path}: no such directory`)
      if (node.kind !== "Directory") {
        return error("InvalidState", operation, `${path}: ${name} is not a directory`)
      }
      dir = node
      done.push(name)
      i++
    }
    return { parent: undefined, name: "", node: root, path: "/" }
  }

  const existing = (path: string, followLast: boolean, operation: string) => {
    const at = locate(path, followLast, operation)
    if (at instanceof LrmsError) return at
    if (at.node === undefined) {
      return error("NotFound", operation, `${path}: no such file or directory`)
    }
    return { ...at, node: at.node }
  }

  const mkdir = (
    path: string,
    recursive: boolean,
    mode: number,
    operation: string,
  ): LrmsError | undefined => {
    const at = locate(path, true, operation)
    if (at instanceof LrmsError) {
      if (!recursive || at.reason !== "NotFound") return at
      const made = mkdir(dirname(absolute(path)), true, mode, operation)
      if (made !== undefined) return made
      return mkdir(path, false, mode, operation)
    }
    const { parent, name, node } = at
    if (node !== undefined) {
      if (recursive && node.kind === "Directory") return undefined
      return error("InvalidState", operation, `${path}: already exists`)
    }
    if (parent === undefined) return undefined
    parent.children.set(name, { kind: "Directory", children: new Map(), mode, mtime: now() })
    touch(parent)
    return undefined
  }

  const writeFile = (
    path: string,
    bytes: Uint8Array,
    mode: number | undefined,
    mtime: Date,
    operation: string,
  ): LrmsError | undefined => {
    const at = locate(path, true, operation)
    if (at instanceof LrmsError) return at
    const { parent, name, node } = at
    if (parent === undefined || node?.kind === "Directory") {
      return error("InvalidState", operation, `${path}: is a directory`)
    }
    if (node?.kind === "File") {
      node.bytes = bytes
      node.mtime = mtime
      if (mode !== undefined) node.mode = mode & 0o7777
      return undefined
    }
    parent.children.set(name, { kind: "File", bytes, mode: (mode ?? 0o644) & 0o7777, mtime })
    touch(parent)
    return undefined
  }

  const symlink = (path: string, target: string, operation: string): LrmsError | undefined => {
    const made = mkdir(dirname(absolute(path)), true, 0o755, operation)
    if (made !== undefined) return made
    const at = locate(path, false, operation)
    if (at instanceof LrmsError) return at
    if (at.parent === undefined || at.node?.kind === "Directory") {
      return error("InvalidState", operation, `${path}: a directory is in the way`)
    }
    at.parent.children.set(at.name, { kind: "SymbolicLink", target, mtime: now() })
    return undefined
  }

  const walk: Walk = { locate, touch }
  return {
    home: normalHome,
    absolute,
    locate,
    existing,
    mkdir,
    writeFile,
    symlink,
    remove: (path, recursive) => remove(walk, path, recursive),
    rename: (from, to) => rename(walk, from, to),
    snapshot: (rootPath) => snapshot(walk, rootPath),
  }
}
