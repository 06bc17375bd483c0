/**
 * @internal Job arrays, planned by pure functions: which submissions of one moment share a
 * resource shape (and so one array), how a group is cut under the array limit, the array's job
 * script (which runs the element's own job script, chosen by the scheduler's index variable), and
 * the pointer line an element's script carries back to its array.
 *
 * @module
 */
import { type Application, shape } from "../../../src/Application.ts"
import { quote } from "../../../src/Shell.ts"

/**
 * @internal What makes two applications fit one array: everything a dialect builds the submit
 * command from (memory, walltime, architecture, the parallel shape with its launcher, which picks
 * SLURM's node options, and the application's class name, which picks Grid Engine's parallel
 * environment). Names, arguments, files and environment may differ: each element runs its own
 * job script.
 */
export const shapeKey = (app: Application): string =>
  JSON.stringify([
    shape(app),
    app.requestedMemory ?? null,
    app.requestedWalltime === undefined ? null : String(app.requestedWalltime),
    app.requestedArchitecture ?? null,
    app.applicationName,
  ])

/**
 * @internal Groups items by key, in first-seen order, then cuts each group into chunks of at most
 * `max`; a chunk of one is a single submission.
 */
export const plan = <A>(
  items: ReadonlyArray<A>,
  key: (a: A) => string,
  max: number,
): ReadonlyArray<ReadonlyArray<A>> => {
  const groups = new Map<string, Array<A>>()
  for (const item of items) {
    const k = key(item)
    const group = groups.get(k)
    if (group === undefined) groups.set(k, [item])
    else group.push(item)
  }
  const size = Math.max(1, Math.floor(max))
  const chunks: Array<ReadonlyArray<A>> = []
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i += size) chunks.push(group.slice(i, i + size))
  }
  return chunks
}

/** @internal The comment line an element's job script starts with, naming its array. */
export const pointerLine = (arrayDir: string, index: number): string =>
  `# effect-lrms array element ${index} of ${quote(arrayDir)}`

/** @internal Reads {@linkcode pointerLine} back from a job script: its array and index. */
export const parsePointer = (
  script: string,
): { readonly arrayDir: string; readonly index: number } | undefined => {
  const m = /^# effect-lrms array element (\d+) of '((?:[^']|'\\'')*)'$/m.exec(script)
  return m === null ? undefined : { index: Number(m[1]), arrayDir: m[2]!.replaceAll("'\\''", "'") }
}

/** @internal What the array's job script needs. */
export interface ArrayScriptSpec {
  /** The scheduler's directive lines (`#SBATCH ...`). */
  readonly directives: ReadonlyArray<string>
  /** The shell variable holding the element's index (`SLURM_ARRAY_TASK_ID`). */
  readonly indexVariable: string
  /** The elements' job scripts, by index. */
  readonly elements: ReadonlyArray<{ readonly index: number; readonly script: string }>
}

/**
 * @internal Renders the array's job script: it replaces itself (`exec`) with the element's own job
 * script, so the scheduler sees the element's exit status or signal as the array task's; an
 * index it does not know ends the task with 126 and a message.
 */
export const renderArrayScript = (spec: ArrayScriptSpec): string => {
  const v = spec.indexVariable
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new Error(`bad index variable ${v}`)
  return [
    "#!/bin/sh",
    ...spec.directives,
    "# effect-lrms job array: generated, do not edit",
    `case "\${${v}:-}" in`,
    ...spec.elements.map((e) => `  ${e.index}) exec /bin/sh ${quote(e.script)} ;;`),
    "esac",
    `echo "effect-lrms: this array has no element \${${v}:-(unset)}" >&2`,
    "exit 126",
    "",
  ].join("\n")
}

/** @internal A file the write script creates: its directory is made first. */
export interface NewFile {
  readonly dir: string
  readonly path: string
  readonly content: string
  /** Make it executable (a scheduler may run the submitted script as a command: LSF). */
  readonly executable?: boolean
}

/**
 * @internal Renders a `/bin/sh` script that makes many directories (`mkdir -p`, a few hundred a
 * call) and writes many files with the `printf` builtin (no process per file; `chmod` for the few
 * that must be executable), stopping at the
 * first failure; it prints `<token> ok` last, so a reply without it means not every file was
 * written.
 */
export const renderWriteScript = (token: string, files: ReadonlyArray<NewFile>): string => {
  const dirs = [...new Set(files.map((f) => f.dir))]
  const mkdirs: Array<string> = []
  for (let i = 0; i < dirs.length; i += 200) {
    mkdirs.push(`mkdir -p -- ${dirs.slice(i, i + 200).map(quote).join(" ")}`)
  }
  return [
    "set -e",
    ...mkdirs,
    ...files.map((f) => `printf '%s' ${quote(f.content)} >${quote(f.path)}`),
    ...files.filter((f) => f.executable === true).map((f) => `chmod 755 ${quote(f.path)}`),
    `echo ${quote(token)} ok`,
    "",
  ].join("\n")
}
