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
 * Every argument, file name and environment value is single-quoted (`Shell.quote`); prologue and
 * epilogue are the configuration's shell text, inserted as they are.
 *
 * @since 0.1.0
 * @module
 */
import type { Application } from "../../src/Application.ts"
import * as Payload from "../../src/internal/payload.ts"
import { quote } from "../../src/Shell.ts"

/**
 * The job's private directory (inside the job directory): script and scheduler output. `*`
 * outputs leave it out.
 *
 * @since 0.1.0
 * @category constants
 */
export const PRIVATE_DIR = ".lrms"

/**
 * The files in the private directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const Files = {
  script: "job.sh",
  schedulerOutput: "scheduler.out",
  schedulerError: "scheduler.err",
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
}

/**
 * Renders the job script.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderJobScript = (spec: JobScriptSpec): string => {
  const { app } = spec
  const env = Payload.exports(app)
  // The payload runs in a subshell that execs it: its environment stays out of the epilogue,
  // and arguments[0] is always a program, never a builtin acting on the script.
  const run = `(${[...env, `exec ${Payload.argv(app)} ${Payload.redirections(app)}`].join("; ")})`
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
    ...block("prologue", spec.prologue),
    ...Payload.outputDirs(app),
    run,
    "lrms_rc=$?",
    ...block("epilogue", spec.epilogue),
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
}

/**
 * Renders a `/bin/sh` script (fed on standard input) that runs each command in its directory,
 * one after the other, with standard input from `/dev/null`, printing each command's output
 * (stdout and stderr together) followed by a line `<token> <index> <exit code>`.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderSubmitScript = (token: string, runs: ReadonlyArray<SubmitRun>): string =>
  runs.map((r, i) =>
    `(cd ${quote(r.cwd)} && exec ${r.argv.map(quote).join(" ")}) </dev/null 2>&1; ` +
    `printf '\\n%s %s %s\\n' ${quote(token)} ${i} "$?"`
  ).join("\n") + "\n"

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
