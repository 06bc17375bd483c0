/**
 * The resource-usage report of the shellcmd wrapper: GNU time's `-f` format (GC3Pie's TIMEFMT)
 * and its parser.
 *
 * GNU time prints memory in kilobytes of 1024 bytes (`%M` is `ru_maxrss`, in KiB on Linux);
 * GC3Pie reads them as 1000 bytes. This parser uses 1024.
 *
 * @since 0.1.0
 * @module
 */
import * as Duration from "effect/Duration"
import * as Job from "../../src/Job.ts"
import * as Quantity from "../../src/Quantity.ts"
import * as Termination from "../../src/Termination.ts"

/**
 * The `-f` format handed to GNU time: one `Key=value` line per figure.
 *
 * @since 0.1.0
 * @category models
 */
export const FORMAT: string = [
  "WallTime=%es",
  "KernelTime=%Ss",
  "UserTime=%Us",
  "CPUUsage=%P",
  "MaxResidentMemory=%MkB",
  "AverageResidentMemory=%tkB",
  "AverageTotalMemory=%KkB",
  "AverageUnsharedMemory=%DkB",
  "AverageUnsharedStack=%pkB",
  "AverageSharedMemory=%XkB",
  "PageSize=%ZB",
  "MajorPageFaults=%F",
  "MinorPageFaults=%R",
  "Swaps=%W",
  "ForcedSwitches=%c",
  "WaitSwitches=%w",
  "Inputs=%I",
  "Outputs=%O",
  "SocketReceived=%r",
  "SocketSent=%s",
  "Signals=%k",
  "ReturnCode=%x",
].join("\n")

const memoryKeys: Readonly<Record<string, string>> = {
  AverageResidentMemory: "shellcmd_average_resident_memory",
  AverageTotalMemory: "shellcmd_average_total_memory",
  AverageUnsharedMemory: "shellcmd_average_unshared_memory",
  AverageUnsharedStack: "shellcmd_average_unshared_stack",
  AverageSharedMemory: "shellcmd_average_shared_memory",
  PageSize: "shellcmd_page_size",
}

const counterKeys: Readonly<Record<string, string>> = {
  MajorPageFaults: "shellcmd_major_page_faults",
  MinorPageFaults: "shellcmd_minor_page_faults",
  Swaps: "shellcmd_swapped",
  ForcedSwitches: "shellcmd_involuntary_context_switches",
  WaitSwitches: "shellcmd_voluntary_context_switches",
  Inputs: "shellcmd_filesystem_inputs",
  Outputs: "shellcmd_filesystem_outputs",
  SocketReceived: "shellcmd_socket_received",
  SocketSent: "shellcmd_socket_sent",
  Signals: "shellcmd_signals_delivered",
}

/**
 * Parses a duration as GNU time and `ps -o etime` print it: `[[DD-]HH:]MM:SS[.ff]`, or seconds
 * with an optional `s` (`4.20s`, `42`). Returns `undefined` for anything else.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseClockDuration = (text: string): Duration.Duration | undefined => {
  const s = text.trim()
  let m = /^(\d+(?:\.\d+)?)s?$/.exec(s)
  if (m !== null) {
    const seconds = Number(m[1])
    return Number.isFinite(seconds) ? Duration.millis(Math.round(seconds * 1000)) : undefined
  }
  m = /^(?:(?:(\d+)-)?(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(s)
  if (m === null) return undefined
  const [, d = "0", h = "0", mi, se] = m
  const seconds = Number(d) * 86400 + Number(h) * 3600 + Number(mi) * 60 + Number(se)
  return Number.isFinite(seconds) ? Duration.millis(Math.round(seconds * 1000)) : undefined
}

/** A byte count that a `Memory` can hold, or `undefined` (absurdly large figures). */
const safeMemory = (n: number): Quantity.Memory | undefined => {
  const m = Quantity.memory(n)
  return Number.isSafeInteger(m) ? m : undefined
}

const kib = (text: string): Quantity.Memory | undefined => {
  const m = /^(\d+(?:\.\d+)?)\s*kB$/i.exec(text)
  return m === null ? undefined : safeMemory(Number(m[1]) * 1024)
}

const bytes = (text: string): Quantity.Memory | undefined => {
  const m = /^(\d+)\s*B$/.exec(text)
  return m === null ? undefined : safeMemory(Number(m[1]))
}

/**
 * What a report says: how the job ended and what it used. `valid` is false when the figures
 * GC3Pie requires (user and kernel time) are missing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  /** How the job ended, when the report says. */
  readonly termination: Termination.Termination | undefined
  /** The figures, as a `Job.Usage`. */
  readonly usage: Job.Usage
  /** Whether the report had user and kernel time. */
  readonly valid: boolean
  /** Lines that could not be read (unknown keys, bad values), for a warning. */
  readonly unknown: ReadonlyArray<string>
}

/**
 * Parses the report GNU time writes with {@linkcode FORMAT}. Never throws: unreadable lines are
 * listed in `unknown`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Report => {
  let returnCode: number | undefined
  let signal: number | undefined
  let duration: Duration.Duration | undefined
  let userTime: Duration.Duration | undefined
  let kernelTime: Duration.Duration | undefined
  let maxUsedMemory: Quantity.Memory | undefined
  const extra: Record<string, string | number> = {}
  const unknown: Array<string> = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === "") continue
    const sig = /^Command terminated by signal (\d+)$/.exec(line)
    if (sig !== null) {
      signal = Number(sig[1])
      continue
    }
    const eq = line.indexOf("=")
    if (eq < 0) continue // "Command exited with non-zero status N" and the like
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1).trim()
    if (value.startsWith("?")) continue
    switch (key) {
      case "WallTime":
        duration = parseClockDuration(value)
        if (duration === undefined) unknown.push(line)
        break
      case "UserTime":
        userTime = parseClockDuration(value)
        if (userTime === undefined) unknown.push(line)
        else extra.shellcmd_user_time = Duration.toSeconds(userTime)
        break
      case "KernelTime":
        kernelTime = parseClockDuration(value)
        if (kernelTime === undefined) unknown.push(line)
        else extra.shellcmd_kernel_time = Duration.toSeconds(kernelTime)
        break
      case "CPUUsage": {
        const n = Number(value.replace(/%$/, ""))
        if (Number.isFinite(n)) extra.shellcmd_cpu_usage = n
        else unknown.push(line)
        break
      }
      case "MaxResidentMemory":
        maxUsedMemory = kib(value)
        if (maxUsedMemory === undefined) unknown.push(line)
        break
      case "ReturnCode": {
        const n = /^-?\d+$/.test(value) ? Number(value) : NaN
        if (Number.isFinite(n)) returnCode = n
        else unknown.push(line)
        break
      }
      default: {
        const memKey = memoryKeys[key]
        if (memKey !== undefined) {
          const m = key === "PageSize" ? bytes(value) : kib(value)
          if (m === undefined) unknown.push(line)
          else extra[memKey] = m
          break
        }
        const counterKey = counterKeys[key]
        if (
          counterKey !== undefined && /^\d+$/.test(value) && Number.isSafeInteger(Number(value))
        ) {
          extra[counterKey] = Number(value)
        } else unknown.push(line)
      }
    }
  }
  const termination = signal !== undefined
    ? Termination.signalled(signal)
    : returnCode !== undefined
    ? Termination.fromShellExit(returnCode)
    : undefined
  const valid = userTime !== undefined && kernelTime !== undefined
  const usage = new Job.Usage({
    ...(duration !== undefined ? { duration } : {}),
    ...(valid ? { cpuTime: Duration.sum(userTime!, kernelTime!) } : {}),
    ...(maxUsedMemory !== undefined ? { maxUsedMemory } : {}),
    extra,
    // every figure is checked above (finite, safe): skip the class's validation, which cost
    // more than the parse itself, once per finished job
  }, true)
  return { termination, usage, valid, unknown }
}
