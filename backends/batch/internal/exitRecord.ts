/**
 * @internal Completion from exit files. The job script writes, in the job's private directory, a
 * start marker when it starts (`started`: start time and host) and an exit record when the
 * payload and the epilogue are done (`exit`: the payload's exit status, start and end times, the
 * CPU time of its children), each written to a temporary name and renamed into place, so a reader
 * sees a whole file or none. A new run of a requeued job removes the markers of the run before.
 *
 * One `/bin/sh` script, fed on standard input, prints the markers of many job directories (shell
 * builtins only: no process per directory); {@linkcode parseMarkers} reads its output.
 *
 * An exit record whose payload exited is final. One whose payload died of a signal is not, on its
 * own: the batch system may have killed it (cancel, walltime, memory), and the scheduler's word
 * wins; the record is the answer only when the scheduler has none.
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Job from "../../../src/Job.ts"
import { quote } from "../../../src/Shell.ts"
import * as Termination from "../../../src/Termination.ts"

/** @internal The files of the job's private directory that this module writes and reads. */
export const MarkerFiles = {
  /** The start marker: `start=<epoch s> host=<name>`. */
  started: "started",
  /** The exit record: `status=<$?> start=<epoch s> end=<epoch s> cpu=<user>+<system>`. */
  exit: "exit",
} as const

/** @internal What the start marker says. */
export interface StartMarker {
  /** When the job script started (seconds since the epoch), if `date +%s` told. */
  readonly startedAt: number | undefined
  /** The host it ran on (`uname -n`). */
  readonly host: string
  /** The marker's line as written: two runs of a requeued job write different lines. */
  readonly line: string
}

/** @internal What the exit record says. */
export interface ExitRecord {
  /** The payload's exit status as the shell saw it (`128 + N`: killed by signal N). */
  readonly status: number
  /** How the payload ended. */
  readonly termination: Termination.Termination
  /** When the job script started and when it wrote the record (seconds since the epoch). */
  readonly startedAt: number | undefined
  /** See {@linkcode ExitRecord.startedAt}. */
  readonly endedAt: number | undefined
  /** CPU time (user + system) of the script's children, from `times`, in seconds. */
  readonly cpuSeconds: number | undefined
}

/** @internal A job directory's markers; a missing or unreadable file is absent. */
export interface Markers {
  readonly started?: StartMarker | undefined
  readonly exit?: ExitRecord | undefined
}

// =============================================================================
// The job script's lines
// =============================================================================

/**
 * @internal The job script's lines that write the start marker, right after it enters the job
 * directory: the markers of an earlier run go first. `privateDir` is absolute, so a prologue that
 * changes directory does not move them.
 */
export const startMarkerLines = (privateDir: string): ReadonlyArray<string> => [
  "# ---- effect-lrms start marker (the exit record is written at the end) ----",
  `lrms_dir=${quote(privateDir)}`,
  "lrms_start=$(date +%s 2>/dev/null)",
  `rm -f "$lrms_dir/${MarkerFiles.exit}" "$lrms_dir/${MarkerFiles.started}" 2>/dev/null`,
  `echo "start=$lrms_start host=$(uname -n 2>/dev/null)" 2>/dev/null ` +
  `>"$lrms_dir/${MarkerFiles.started}.part" && ` +
  `mv -f "$lrms_dir/${MarkerFiles.started}.part" "$lrms_dir/${MarkerFiles.started}" 2>/dev/null`,
]

/**
 * @internal The job script's lines that write the exit record, after the epilogue and before the
 * script ends: `$lrms_rc` is the payload's status. `times` runs in the script's own shell (its
 * second line is the children's CPU time); its output passes through the record's temporary file.
 */
export const exitRecordLines: ReadonlyArray<string> = [
  "# ---- effect-lrms exit record ----",
  "lrms_end=$(date +%s 2>/dev/null)",
  `times 2>/dev/null >"$lrms_dir/${MarkerFiles.exit}.part"`,
  `{ read -r lrms_t; read -r lrms_t; } 2>/dev/null <"$lrms_dir/${MarkerFiles.exit}.part"`,
  `echo "status=$lrms_rc start=$lrms_start end=$lrms_end cpu=\${lrms_t%% *}+\${lrms_t#* }" ` +
  `2>/dev/null >"$lrms_dir/${MarkerFiles.exit}.part" && ` +
  `mv -f "$lrms_dir/${MarkerFiles.exit}.part" "$lrms_dir/${MarkerFiles.exit}" 2>/dev/null`,
]

// =============================================================================
// Reading many job directories in one call
// =============================================================================

/**
 * @internal Renders the `/bin/sh` script that prints the markers of each private directory, in
 * order: a line `<token>`, then `started <marker line>` and `exit <record line>` for the files
 * that exist; a last line `<token> end`. Builtins only (`[`, `read`, `echo`), so a thousand
 * directories cost one process.
 */
export const renderReadScript = (token: string, privateDirs: ReadonlyArray<string>): string => {
  const file = (name: string) =>
    `  [ -r "$lrms_d/${name}" ] && IFS= read -r lrms_l <"$lrms_d/${name}" && ` +
    `echo "${name} $lrms_l"`
  return [
    "lrms_markers() {",
    ...(privateDirs.length === 0 ? [] : [
      `for lrms_d in ${privateDirs.map(quote).join(" ")}; do`,
      `  echo ${quote(token)}`,
      file(MarkerFiles.started),
      file(MarkerFiles.exit),
      "done 2>/dev/null",
    ]),
    `echo ${quote(`${token} end`)}`,
    "}",
    "lrms_markers",
    "",
  ].join("\n")
}

/** `key=value` words of a marker line; a value runs to the next space. */
const fields = (line: string): ReadonlyMap<string, string> =>
  new Map(
    line.trim().split(/\s+/).flatMap((w) => {
      const at = w.indexOf("=")
      return at > 0 ? [[w.slice(0, at), w.slice(at + 1)] as const] : []
    }),
  )

/** A whole number of seconds since the epoch, or `undefined`. */
const epoch = (text: string | undefined): number | undefined =>
  text !== undefined && /^\d{1,12}$/.test(text) ? Number(text) : undefined

/** `times`' `XmY.Ys`, in seconds. */
const timesSeconds = (text: string): number | undefined => {
  const m = /^(\d{1,9})m(\d{1,9}(?:\.\d{1,9})?)s$/.exec(text)
  return m === null ? undefined : Number(m[1]) * 60 + Number(m[2])
}

/** @internal Reads a start marker's line; `undefined` when it is not one. */
export const parseStartMarker = (line: string): StartMarker | undefined => {
  const f = fields(line)
  if (!f.has("start")) return undefined
  return { startedAt: epoch(f.get("start")), host: f.get("host") ?? "", line: line.trim() }
}

/**
 * @internal Reads an exit record's line; `undefined` when it is not one. A status of 129–159 is
 * a payload killed by signal `status − 128` (the job script's own rule), any other an exit code.
 */
export const parseExitRecord = (line: string): ExitRecord | undefined => {
  const f = fields(line)
  const status = f.get("status")
  if (status === undefined || !/^\d{1,3}$/.test(status) || Number(status) > 255) return undefined
  const rc = Number(status)
  const [user, system] = (f.get("cpu") ?? "").split("+").map(timesSeconds)
  return {
    status: rc,
    termination: rc > 128 && rc < 160 ? Termination.signalled(rc - 128) : Termination.exited(rc),
    startedAt: epoch(f.get("start")),
    endedAt: epoch(f.get("end")),
    cpuSeconds: user !== undefined && system !== undefined ? user + system : undefined,
  }
}

/**
 * @internal Parses the output of {@linkcode renderReadScript}: each directory's markers, in
 * order. A section is read only once the next token line shows it complete; a directory the
 * output does not reach (cut short) is `undefined`.
 */
export const parseMarkers = (
  token: string,
  count: number,
  stdout: string,
): ReadonlyArray<Markers | undefined> => {
  const results: Array<Markers | undefined> = Array.from({ length: count }, () => undefined)
  let index = -1
  let current: { started?: StartMarker; exit?: ExitRecord } = {}
  const close = () => {
    if (index >= 0 && index < count) results[index] = current
    current = {}
  }
  for (const line of stdout.split("\n")) {
    if (line === token || line === `${token} end`) {
      close()
      index++
      if (line !== token) break
      continue
    }
    const space = line.indexOf(" ")
    const name = space < 0 ? line : line.slice(0, space)
    const rest = line.slice(space + 1)
    if (name === MarkerFiles.started) {
      const marker = parseStartMarker(rest)
      if (marker !== undefined) current.started = marker
    } else if (name === MarkerFiles.exit) {
      const record = parseExitRecord(rest)
      if (record !== undefined) current.exit = record
    }
  }
  return results
}

// =============================================================================
// What a record means
// =============================================================================

/** @internal Tells whether an exit record ends the job on its own: the payload exited. */
export const isFinal = (record: ExitRecord): boolean => record.termination.signal === 0

/**
 * @internal What the exit record says the job used: the script's wall time and its children's
 * CPU time, the cores it asked for, and the host it ran on (`<backend>_host`).
 */
export const usageOf = (
  backend: string,
  record: ExitRecord,
  cores: number,
  started?: StartMarker,
): Job.Usage => {
  const { startedAt, endedAt, cpuSeconds } = record
  return new Job.Usage({
    ...(startedAt !== undefined && endedAt !== undefined && endedAt >= startedAt
      ? { duration: Duration.seconds(endedAt - startedAt) }
      : {}),
    ...(cpuSeconds !== undefined
      ? { cpuTime: Duration.millis(Math.round(cpuSeconds * 1000)) }
      : {}),
    cores,
    extra: started !== undefined && started.host !== ""
      ? { [`${backend}_host`]: started.host }
      : {},
  })
}
