/**
 * The two scripts of the batch flow, rendered by pure functions: the job script a scheduler runs,
 * and the submit script that runs many submit commands in one transport call.
 *
 * The job script changes into the job directory, runs the prologue, exports the environment and
 * runs the payload with the application's own stdin, stdout and stderr files, then the epilogue.
 * The job redirects its streams itself, rather than through the scheduler's `--output` options,
 * for three reasons: the files are the application's names exactly (SLURM expands `%j` in
 * `--output`, Grid Engine `$JOB_ID`, LSF `%J`), they grow while the job runs so `peek` works on
 * every scheduler (PBS spools output on the node until the end), and the scheduler's own messages
 * (`CANCELLED DUE TO TIME LIMIT`) stay apart in the job's private directory. A payload killed by
 * a signal makes the script die of the same signal, so the scheduler records the signal, not
 * `128 + N`.
 *
 * The script also leaves its own account in the private directory: a start marker when it starts
 * (the markers of an earlier run of a requeued job removed first) and an exit record at its end
 * (the payload's exit status, start and end times, CPU time), each renamed into place whole. The
 * batch flow reads a job's end from them, asking the scheduler only about jobs without one.
 *
 * Every argument, file name and environment value is single-quoted (`Shell.quote`); prologue and
 * epilogue are the configuration's shell text, inserted as they are.
 *
 * @since 0.1.0
 * @module
 */
import { type Application, shape } from "../../src/Application.ts"
import * as Launch from "../../src/internal/launcher.ts"
import * as Payload from "../../src/internal/payload.ts"
import * as ExitRecord from "./internal/exitRecord.ts"
import { quote } from "../../src/Shell.ts"

/**
 * The job's private directory (inside the job directory): script and scheduler output. `*`
 * outputs leave it out.
 *
 * @since 0.1.0
 * @category models
 */
export const PRIVATE_DIR = ".lrms"

/**
 * The files in the private directory.
 *
 * @since 0.1.0
 * @category models
 */
export const Files = {
  script: "job.sh",
  schedulerOutput: "scheduler.out",
  schedulerError: "scheduler.err",
  /** The start marker the job script writes when it starts (start time, host). */
  started: ExitRecord.MarkerFiles.started,
  /** The exit record the job script writes at its end (exit status, start and end times). */
  exit: ExitRecord.MarkerFiles.exit,
} as const

/**
 * What the job script needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobScriptSpec {
  /** What the job runs. */
  readonly app: Application
  /** The job directory (absolute); the script starts there. */
  readonly jobDir: string
  /** Scheduler directive lines, right after `#!/bin/sh`. */
  readonly directives: ReadonlyArray<string>
  /** Shell text run before the payload, in the job directory. */
  readonly prologue?: string | undefined
  /** Shell text run after the payload; `$lrms_rc` holds the payload's exit status. */
  readonly epilogue?: string | undefined
  /** The resource's launch settings: default launcher, launcher commands, hooks. */
  readonly launch?: Launch.LaunchSettings | undefined
}

/**
 * Renders the job script.
 *
 * @since 0.1.0
 * @category commands
 */
export const renderJobScript = (spec: JobScriptSpec): string => {
  const { app } = spec
  // The payload runs in a subshell, through its launcher (a single one execs it): its
  // environment stays out of the epilogue, and arguments[0] is always a program, never a
  // builtin acting on the script.
  const run = Launch.subshell(app, shape(app), spec.launch)
  const block = (title: string, text: string | undefined) =>
    text === undefined || text.trim() === "" ? [] : [
      `# ---- ${title} (configuration) ----`,
      text.replace(/\n+$/, ""),
      `# ---- end ${title} ----`,
    ]
  return [
    "#!/bin/sh",
    ...spec.directives,
    `# effect-lrms job ${app.jobname}: generated, do not edit`,
    `cd ${quote(spec.jobDir)} || exit 126`,
    ...ExitRecord.startMarkerLines(`${spec.jobDir}/${PRIVATE_DIR}`),
    ...block("prologue", spec.prologue),
    ...Payload.outputDirs(app),
    run,
    "lrms_rc=$?",
    ...block("epilogue", spec.epilogue),
    ...ExitRecord.exitRecordLines,
    // die of the payload's signal, so the scheduler records a signal and not 128 + N
    'if [ "$lrms_rc" -gt 128 ] && [ "$lrms_rc" -lt 160 ]; then',
    "  trap - HUP INT QUIT PIPE TERM USR1 USR2",
    '  kill -s "$(kill -l "$lrms_rc")" "$$"',
    "fi",
    'exit "$lrms_rc"',
    "",
  ].join("\n")
}

// =============================================================================
// Many submit commands in one call
// =============================================================================

/**
 * One submit command: run `argv` in `cwd`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitRun {
  /** The directory the command runs in. */
  readonly cwd: string
  /** The command. */
  readonly argv: ReadonlyArray<string>
  /** The command's own name (`sbatch`) whatever override runs it, for the metrics. */
  readonly name?: string
}

/**
 * Files of the durable submit record, in the job's private directory. The submit script writes
 * them on the resource, so the outcome of a submission survives a lost connection:
 *
 * - `submit.pid`: the pid of the shell that runs the submit command (alive: it may still run);
 * - `submit.claim/`: made (atomically, `mkdir`) right before the submit command runs. Whoever
 *   makes it first owns the submission: the submit script, or a reconciliation that thereby
 *   proves the command never ran and never will;
 * - `submit.out`: the command's output; `submit.rc`: its exit code, renamed into place last.
 *
 * @since 0.1.0
 * @category models
 */
export const SubmitRecord = {
  pid: "submit.pid",
  claim: "submit.claim",
  output: "submit.out",
  rc: "submit.rc",
} as const

/**
 * Renders a `/bin/sh` script (fed on standard input) that runs each command in its directory,
 * one after the other, with standard input from `/dev/null`, printing each command's output
 * (stdout and stderr together) followed by a line `<token> <index> <exit code>`.
 *
 * The script is one function, called on its last line, so a script cut short in transit runs
 * nothing. It ignores SIGHUP and SIGPIPE, so a dropped connection does not stop it mid-way, and
 * it keeps each command's outcome in the job's private directory ({@linkcode SubmitRecord}):
 * a command whose claim is already taken (by a reconciliation) is not run, and reported with
 * exit code 125 and the line `claimed`.
 *
 * @since 0.1.0
 * @category commands
 */
export const renderSubmitScript = (token: string, runs: ReadonlyArray<SubmitRun>): string => {
  const p = (file: string) => quote(`${PRIVATE_DIR}/${file}`)
  const body = runs.map((r, i) =>
    [
      `  if cd ${quote(r.cwd)}; then`,
      `    echo "$$" >${p(SubmitRecord.pid)}`,
      `    if mkdir ${p(SubmitRecord.claim)} 2>/dev/null; then`,
      `      (exec ${r.argv.map(quote).join(" ")}) </dev/null >${p(SubmitRecord.output)} 2>&1`,
      `      lrms_rc=$?`,
      `      echo "$lrms_rc" >${p(`${SubmitRecord.rc}.part`)} && ` +
      `mv -f ${p(`${SubmitRecord.rc}.part`)} ${p(SubmitRecord.rc)}`,
      `      cat ${p(SubmitRecord.output)}`,
      `    else lrms_rc=125; echo claimed; fi`,
      `  else lrms_rc=126; fi`,
      `  printf '\\n%s %s %s\\n' ${quote(token)} ${i} "$lrms_rc"`,
    ].join("\n")
  )
  return ["trap '' HUP PIPE", "lrms_submit() {", ...body, "}", "lrms_submit", ""].join("\n")
}

/**
 * Renders the `/bin/sh` script that reads the submit record of one job directory
 * ({@linkcode SubmitRecord}); its one-line verdict is read by {@linkcode parseSubmitRecord}.
 *
 * @since 0.1.0
 * @category commands
 */
export const renderRecordScript = (jobDir: string): string => {
  const p = (file: string) => quote(`${PRIVATE_DIR}/${file}`)
  return [
    `cd ${quote(jobDir)} 2>/dev/null || { echo gone; exit 0; }`,
    `if mkdir ${p(SubmitRecord.claim)} 2>/dev/null; then echo claimed; exit 0; fi`,
    `if [ -f ${p(SubmitRecord.rc)} ]; then`,
    `  echo "rc $(cat ${p(SubmitRecord.rc)})"; cat ${p(SubmitRecord.output)} 2>/dev/null; exit 0`,
    `fi`,
    `lrms_pid=$(cat ${p(SubmitRecord.pid)} 2>/dev/null)`,
    `if [ -n "$lrms_pid" ] && kill -0 "$lrms_pid" 2>/dev/null; then echo running; exit 0; fi`,
    // the scheduler's own files appear once the job has started: evidence that it exists
    `if [ -e ${p(Files.schedulerOutput)} ] || [ -e ${p(Files.schedulerError)} ]; then ` +
    `echo "cut ran"; else echo cut; fi`,
    `cat ${p(SubmitRecord.output)} 2>/dev/null; exit 0`,
    "",
  ].join("\n")
}

/**
 * What a job directory's submit record says:
 *
 * - `Claimed`: the submit command never ran, and now never will (the reader took the claim);
 * - `Gone`: the job directory does not exist;
 * - `Done`: the command ran to its end, with this exit code and output;
 * - `Running`: the shell that runs it is still alive;
 * - `Cut`: the command started but its shell died before it ended (its output so far is kept);
 *   `ran` when the scheduler's own output files exist, so the job has started somewhere.
 *
 * @since 0.1.0
 * @category models
 */
export type SubmitRecordState =
  | { readonly _tag: "Claimed" }
  | { readonly _tag: "Gone" }
  | { readonly _tag: "Done"; readonly exitCode: number; readonly output: string }
  | { readonly _tag: "Running" }
  | { readonly _tag: "Cut"; readonly output: string; readonly ran: boolean }

/**
 * Reads the verdict of {@linkcode renderRecordScript}; `undefined` for anything else.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSubmitRecord = (stdout: string): SubmitRecordState | undefined => {
  const newline = stdout.indexOf("\n")
  const first = (newline < 0 ? stdout : stdout.slice(0, newline)).trim()
  const rest = newline < 0 ? "" : stdout.slice(newline + 1)
  if (first === "claimed") return { _tag: "Claimed" }
  if (first === "gone") return { _tag: "Gone" }
  if (first === "running") return { _tag: "Running" }
  if (first === "cut" || first === "cut ran") {
    return { _tag: "Cut", output: rest, ran: first === "cut ran" }
  }
  const rc = /^rc (\d+)$/.exec(first)
  return rc !== null ? { _tag: "Done", exitCode: Number(rc[1]), output: rest } : undefined
}

/**
 * Parses the output of {@linkcode renderSubmitScript}: each command's exit code and output, in
 * order; a command the script did not reach (the connection dropped) is `undefined`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSubmitOutput = (
  token: string,
  count: number,
  stdout: string,
): Array<{ readonly exitCode: number; readonly output: string } | undefined> => {
  const results: Array<{ exitCode: number; output: string } | undefined> = Array.from(
    { length: count },
    () => undefined,
  )
  const marker = new RegExp(`^${token} (\\d+) (\\d+)$`)
  let buffer: Array<string> = []
  for (const line of stdout.split("\n")) {
    const m = marker.exec(line)
    if (m === null) {
      buffer.push(line)
      continue
    }
    const index = Number(m[1])
    // the line before the marker is the newline the script prints first
    if (buffer.length > 0 && buffer[buffer.length - 1] === "") buffer.pop()
    if (index < count) results[index] = { exitCode: Number(m[2]), output: buffer.join("\n") }
    buffer = []
  }
  return results
}
