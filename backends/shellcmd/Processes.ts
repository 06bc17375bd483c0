/**
 * Reading the process table (`ps`) and finding a job's process tree (pure).
 *
 * @since 0.1.0
 * @category commands
 * @module
 */
import * as Clock from "../../src/internal/clock.ts"

/**
 * One row of the process table.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessRow {
  /** Process id. */
  readonly pid: number
  /** Parent process id. */
  readonly ppid: number
  /** Process group id. */
  readonly pgid: number
  /** State letters (`S`, `R`, `Z`, `T`, `Ss`, ...). */
  readonly stat: string
  /** Start time in seconds since the epoch, when `lstart` was asked for. */
  readonly startedAt: number | undefined
}

/**
 * The `ps` argv that lists every process with what {@linkcode parsePs} reads. Run it with
 * `LC_ALL=C` and `TZ=UTC`, so start times are in a known format and zone.
 *
 * @since 0.1.0
 * @category commands
 */
export const psAllArgv: ReadonlyArray<string> = [
  "ps",
  "-A",
  "-o",
  "pid=,ppid=,pgid=,stat=,lstart=",
]

/**
 * The environment `ps` runs with.
 *
 * @since 0.1.0
 * @category commands
 */
export const psEnv: Readonly<Record<string, string>> = { LC_ALL: "C", TZ: "UTC" }

/**
 * Parses `ps -o lstart` in the C locale and UTC (`Tue Nov 24 00:44:51 2026`) to seconds since
 * the epoch.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLstart = (text: string): number | undefined => {
  const m = /^\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})$/.exec(text.trim())
  if (m === null) return undefined
  const month = Clock.monthIndex[m[1]!]
  if (month === undefined) return undefined
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) /
    1000
}

/**
 * Parses the output of {@linkcode psAllArgv} (never throws; unreadable lines are skipped).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parsePs = (text: string): ReadonlyArray<ProcessRow> => {
  const rows: Array<ProcessRow> = []
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)(?:\s+(.*))?$/.exec(line)
    if (m === null) continue
    rows.push({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      pgid: Number(m[3]),
      stat: m[4]!,
      startedAt: m[5] === undefined ? undefined : parseLstart(m[5]),
    })
  }
  return rows
}

/**
 * The processes of a job: the root, every descendant, and every member of the root's process
 * group; leaves first, so they can be signalled before their parents.
 *
 * @since 0.1.0
 * @category commands
 */
export const tree = (rows: ReadonlyArray<ProcessRow>, root: number): ReadonlyArray<number> => {
  const children = new Map<number, Array<number>>()
  const parent = new Map<number, number>()
  for (const r of rows) {
    if (r.pid === r.ppid) continue
    const list = children.get(r.ppid) ?? []
    list.push(r.pid)
    children.set(r.ppid, list)
    parent.set(r.pid, r.ppid)
  }
  const order: Array<number> = []
  const seen = new Set<number>()
  const queue = rows.some((r) => r.pid === root) ? [root] : []
  for (const r of rows) if (r.pgid === root && r.pid !== root) queue.push(r.pid)
  while (queue.length > 0) {
    const pid = queue.shift()!
    if (seen.has(pid)) continue
    seen.add(pid)
    order.push(pid)
    for (const c of children.get(pid) ?? []) queue.push(c)
  }
  // A group member may sit deeper in the tree than the order it was found in: sort by depth
  // among the members (the number of member ancestors), deepest first, so that every child
  // comes before its parent; ties keep the reversed discovery order (the root last).
  const depth = (pid: number): number => {
    const chain = new Set([pid])
    let p = parent.get(pid)
    while (p !== undefined && seen.has(p) && !chain.has(p)) {
      chain.add(p)
      p = parent.get(p)
    }
    return chain.size - 1
  }
  return order
    .map((pid, i) => ({ pid, i, d: depth(pid) }))
    .sort((a, b) => b.d - a.d || b.i - a.i)
    .map((x) => x.pid)
}

/**
 * Tells whether a row is a live process of ours: present, not a zombie, and started within
 * `tolerance` seconds of `startedAt` when that is known (so a reused pid is not taken for the
 * job).
 *
 * @since 0.1.0
 * @category commands
 */
export const isAlive = (
  row: ProcessRow | undefined,
  startedAt: number | undefined,
  tolerance = 2,
): boolean => {
  if (row === undefined) return false
  if (row.stat.startsWith("Z") || row.stat.startsWith("X")) return false
  return sameStart(row, startedAt, tolerance)
}

/**
 * The `ps` argv that lists only the given pids, with what {@linkcode parsePs} reads.
 *
 * @since 0.1.0
 * @category commands
 */
export const psPidsArgv = (pids: ReadonlyArray<number>): ReadonlyArray<string> => [
  "ps",
  "-o",
  "pid=,ppid=,pgid=,stat=,lstart=",
  "-p",
  pids.join(","),
]

/**
 * Tells whether a row can be the process that wrote its start marker at `startedAt` (true when
 * either time is unknown): it must have started no later than `tolerance` seconds after it. A
 * process that reused the pid started later; a check in the other direction would only add
 * false alarms (`lstart` has whole seconds, and the marker's mtime may come from another clock,
 * an NFS server's).
 *
 * @since 0.1.0
 * @category commands
 */
export const sameStart = (
  row: ProcessRow,
  startedAt: number | undefined,
  tolerance = 2,
): boolean =>
  startedAt === undefined || row.startedAt === undefined || row.startedAt <= startedAt + tolerance
