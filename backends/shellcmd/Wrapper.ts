/**
 * The shell script that runs one shellcmd job, and the command that launches it (pure).
 *
 * The wrapper first claims its launch token (see `Files.launch`) with one `mv`, so that a launch
 * whose reply was lost can be settled for certain. It then records its start time, runs the job
 * under GNU time when there is one (or times it itself when there is not), writes an exit report
 * (`status`, whose last line `Complete=1` says the report is whole) and marks the job done in the
 * shared bookkeeping. Besides that `mv`, GNU time and the job itself, it uses only shell
 * builtins, so it costs three process starts, one more than a bare
 * `time cmd &`. Every argument, file name and environment value is single-quoted with
 * `Shell.quote`: nothing in them is ever expanded by a shell.
 *
 * @since 0.1.0
 * @module
 */
import * as Application from "../../src/Application.ts"
import * as Launch from "../../src/internal/launcher.ts"
import * as Payload from "../../src/internal/payload.ts"
import { quote } from "../../src/Shell.ts"
import { FORMAT } from "./GnuTime.ts"

/**
 * The name of the private directory inside every job directory.
 *
 * @since 0.1.0
 * @category models
 */
export const PRIVATE_DIR = ".lrms"

/**
 * The files the wrapper writes in the private directory.
 *
 * @since 0.1.0
 * @category models
 */
export const Files = {
  /** The wrapper script itself. */
  wrapper: "wrapper.sh",
  /**
   * The launch token, a directory the submitter makes last, holding `tag` (the job's id). The
   * wrapper runs the job only after claiming it: it writes its pid in it (`launch/pid`), then
   * renames it to `claimed`. Whoever settles a launch whose reply was lost renames it to
   * `refused` instead. `rename` is atomic, so exactly one of the two wins: a refused wrapper
   * never runs the job, however late it starts, and a claimed one carries its pid and tag.
   */
  launch: "launch",
  /** The launch token once the wrapper claimed it: `claimed/pid` and `claimed/tag`. */
  claimed: "claimed",
  /** The launch token once a settling submitter refused it: the wrapper will not run the job. */
  refused: "refused",
  /** Written by the wrapper once it claimed the launch: its pid; its mtime is the start time. */
  started: "started",
  /** GNU time's report. */
  usage: "usage",
  /** The exit report; complete once its last line is `Complete=1`. */
  status: "status",
} as const

/**
 * What the wrapper needs to know.
 *
 * @since 0.1.0
 * @category models
 */
export interface WrapperSpec {
  /** The job's directory on the host. */
  readonly jobDir: string
  /** The application to run. */
  readonly app: Application.Application
  /** GNU time's absolute path, or `undefined` to time the job in the wrapper. */
  readonly timeCmd: string | undefined
  /** The bookkeeping file the wrapper creates when the job ends. */
  readonly doneMarker: string
  /** The resource's launch settings: default launcher, launcher commands, hooks. */
  readonly launch?: Launch.LaunchSettings | undefined
}

/** The subshell that runs the payload through its launcher, under GNU time when there is one. */
const payloadLine = (spec: WrapperSpec, priv: string): string => {
  const { app } = spec
  const shape = Application.shape(app)
  // `--` ends GNU time's options, so a command starting with "-" is still the command
  const timed = spec.timeCmd === undefined
    ? ""
    : `${quote(spec.timeCmd)} -o ${quote(`${priv}/${Files.usage}`)} -f ${quote(FORMAT)} -- `
  if (Launch.isPlain(shape, spec.launch)) {
    const command = `${timed}${Payload.argv(app)} ${Payload.redirections(app)}`
    return `(${[...Launch.exports(app, shape, spec.launch), `exec ${command}`].join("; ")})`
  }
  return spec.timeCmd === undefined
    ? Launch.subshell(app, shape, spec.launch)
    : `(exec ${timed}/bin/sh -c ${quote(Launch.body(app, shape, spec.launch))})`
}

/**
 * Renders the wrapper script.
 *
 * @since 0.1.0
 * @category commands
 */
export const render = (spec: WrapperSpec): string => {
  const { app } = spec
  const priv = `${spec.jobDir}/${PRIVATE_DIR}`
  const mkdirs = Payload.outputDirs(app)
  // The job runs in a subshell: its environment cannot change what the wrapper itself does
  // (LRMS_PRIV, lrms_rc, PATH, ...). A plain launch execs the payload, so arguments[0] is always
  // a program, never a shell builtin (`exit`, `cd`, `trap` ...) acting on the wrapper, at no
  // extra process; any other launch is a shell text GNU time runs through `/bin/sh -c`.
  const run = payloadLine(spec, priv)
  return [
    "#!/bin/sh",
    "# effect-lrms shellcmd wrapper: generated, do not edit",
    `LRMS_PRIV=${quote(priv)}`,
    // A cancel signals the whole process group; the wrapper outlives the job long enough to
    // write how it ended (a trap handler, unlike an ignored signal, is not inherited).
    "trap 'lrms_signalled=1' HUP INT TERM",
    // claim the launch token, or do nothing at all: a refused (or unclaimable) launch exits
    `{ echo "$$" >"$LRMS_PRIV/${Files.launch}/pid" && ` +
    `mv "$LRMS_PRIV/${Files.launch}" "$LRMS_PRIV/${Files.claimed}"; } 2>/dev/null || exit 0`,
    `echo "$$" >"$LRMS_PRIV/${Files.started}"`,
    "lrms_up0=; [ -r /proc/uptime ] && read -r lrms_up0 lrms_rest </proc/uptime",
    `cd ${quote(spec.jobDir)} || exit 126`,
    ...mkdirs,
    run,
    "lrms_rc=$?",
    "lrms_up1=; [ -r /proc/uptime ] && read -r lrms_up1 lrms_rest </proc/uptime",
    "{",
    '  echo "ReturnCode=$lrms_rc"',
    '  echo "UptimeStart=$lrms_up0"',
    '  echo "UptimeEnd=$lrms_up1"',
    '  echo "Complete=1"',
    `} >"$LRMS_PRIV/${Files.status}"`,
    `: >${quote(spec.doneMarker)}`,
    'exit "$lrms_rc"',
    "",
  ].join("\n")
}

/**
 * The argv that starts wrappers detached from the caller (each in its own session when `setsid`
 * exists, standard streams on `/dev/null`) and prints one pid per line, in order. One command
 * launches every job submitted in the same moment.
 *
 * @since 0.1.0
 * @category commands
 */
export const launchArgv = (wrapperPaths: ReadonlyArray<string>): ReadonlyArray<string> => [
  "/bin/sh",
  "-c",
  "if command -v setsid >/dev/null 2>&1; then s=setsid; else s=; fi; " +
  'for w in "$@"; do $s /bin/sh "$w" </dev/null >/dev/null 2>&1 & echo "$!"; done',
  "lrms-launch",
  ...wrapperPaths,
]

/**
 * Reads the pids the launcher printed, one per wrapper in launch order (pure). When the
 * launcher died part way, the list is shorter: the wrappers past its end did not start.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLaunch = (stdout: string): ReadonlyArray<number> => {
  const pids: Array<number> = []
  for (const line of stdout.split("\n")) {
    const l = line.trim()
    if (l === "") continue
    if (!/^\d+$/.test(l) || Number(l) <= 0) break
    pids.push(Number(l))
  }
  return pids
}

/**
 * What the wrapper's exit report says.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  /** The shell's `$?` for the job (GNU time's exit code when it ran under GNU time). */
  readonly returnCode: number | undefined
  /** Wall-clock seconds measured by the wrapper from `/proc/uptime`, when available. */
  readonly wallSeconds: number | undefined
  /** Whether the report is whole (its last line was written). */
  readonly complete: boolean
}

/**
 * Parses the wrapper's exit report (never throws).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseStatus = (text: string): Status => {
  const fields = new Map<string, string>()
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=")
    if (eq > 0) fields.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim())
  }
  const num = (key: string) => {
    const v = fields.get(key)
    if (v === undefined || v === "") return undefined
    const n = Number(v)
    return Number.isFinite(n) ? n : undefined
  }
  const up0 = num("UptimeStart")
  const up1 = num("UptimeEnd")
  const wall = up0 !== undefined && up1 !== undefined ? up1 - up0 : undefined
  return {
    returnCode: num("ReturnCode"),
    wallSeconds: wall !== undefined && Number.isFinite(wall) && wall >= 0
      ? Math.round(wall * 100) / 100
      : undefined,
    complete: fields.get("Complete") === "1",
  }
}
