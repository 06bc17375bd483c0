/**
 * @internal The shell text that starts a job's payload through its launcher (pure): `single`
 * (the payload once, `exec`), `multiple` (one copy per process, on this host), `srun` (inside a
 * SLURM allocation) and `mpirun`/`mpiexec` (OpenMPI or MPICH, told at run time by `--version`,
 * the hosts read at run time from the scheduler's environment).
 *
 * The text is the body of a subshell: it exports the application's environment and
 * `OMP_NUM_THREADS`, runs the pre-launch hook, starts the payload with the application's stdin,
 * stdout and stderr, runs the post-launch hook and exits with the payload's status. Every
 * argument, file name and value is quoted with `Shell.quote`; hooks are the configuration's shell
 * text, inserted as they are.
 *
 * @module
 */
import * as Schema from "effect/Schema"
import type { Application, Shape } from "../Application.ts"
import { quote, split } from "../Shell.ts"
import * as Payload from "./payload.ts"

/** @internal The launchers, in the order of the README's table. */
export const launchers = ["single", "multiple", "srun", "mpirun", "mpiexec"] as const

/** @internal How a payload starts. */
export type Launcher = typeof launchers[number]

/** @internal The launcher as a schema. */
export const LauncherSchema: Schema.Literal<typeof launchers> = Schema.Literal(...launchers)

/** @internal The launchers that are commands, whose command line a resource may configure. */
export const launcherCommandNames = ["srun", "mpirun", "mpiexec"] as const

/** @internal A launcher's command line: its path, then options, split by shell rules. */
export const CommandLine: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter((s) => {
    const words = split(s)
    return words === undefined
      ? "unterminated quote or trailing backslash"
      : words.length === 0
      ? "no command"
      : true
  }),
)

/** @internal What a resource configures about launching. */
export interface LaunchSettings {
  /** The launcher of applications that name none (default `single`). */
  readonly launcher?: Launcher | undefined
  /** Each launcher command's line (`mpirun = "/opt/ompi/bin/mpirun --oversubscribe"`). */
  readonly launcherCommands?:
    | { readonly [K in typeof launcherCommandNames[number]]?: string | undefined }
    | undefined
  /** Shell text run once before the payload starts, on the first node. */
  readonly preLaunch?: string | undefined
  /** Shell text run once after the payload ends; `$lrms_rc` holds its exit status. */
  readonly postLaunch?: string | undefined
}

/** @internal The application's launcher, else the resource's, else `single`. */
export const resolve = (shape: Shape, settings: LaunchSettings = {}): Launcher =>
  shape.launcher ?? settings.launcher ?? "single"

/** @internal The command's words, quoted: the configured line, else the launcher's name. */
const commandWords = (name: typeof launcherCommandNames[number], settings: LaunchSettings) => {
  const line = settings.launcherCommands?.[name]
  const words = line === undefined ? undefined : split(line)
  return (words === undefined || words.length === 0 ? [name] : words).map(quote).join(" ")
}

/** @internal The fields that make an application parallel; `make` stores them only when given. */
const shapeFields = [
  "nodes",
  "processes",
  "processesPerNode",
  "coresPerProcess",
  "gpusPerProcess",
  "exclusive",
  "launcher",
] as const

/**
 * @internal `export` lines: the application's environment, then `OMP_NUM_THREADS` = cores per
 * process unless the application sets it. A GC3Pie-style application (no parallel field) run by
 * a plain launch keeps GC3Pie's environment exactly: no `OMP_NUM_THREADS`.
 */
export const exports = (
  app: Application,
  shape: Shape,
  settings: LaunchSettings = {},
): Array<string> => {
  const gc3pie = isPlain(shape, settings) && shapeFields.every((k) => app[k] === undefined)
  return [
    ...Payload.exports(app),
    ...(gc3pie || Object.hasOwn(app.environment, "OMP_NUM_THREADS")
      ? []
      : [`export OMP_NUM_THREADS=${shape.coresPerProcess}`]),
  ]
}

/** @internal A hook's text, without trailing newlines; nothing for a blank one. */
const hook = (text: string | undefined): Array<string> =>
  text === undefined || text.trim() === "" ? [] : [text.replace(/\n+$/, "")]

/**
 * @internal Runs `command` (a launcher line ending with its redirections) between the hooks: by
 * `exec` when there is no post-launch hook (the payload takes the subshell's place, as GC3Pie
 * ran it), else as a child whose status the subshell keeps and returns.
 */
const between = (pre: ReadonlyArray<string>, command: string, settings: LaunchSettings) => {
  const post = hook(settings.postLaunch)
  return post.length === 0
    ? [...pre, `exec ${command}`]
    : [...pre, command, "lrms_rc=$?", ...post, 'exit "$lrms_rc"']
}

/** @internal `multiple`: one copy per process on this host; stdin to copy 0 only. */
const multiple = (app: Application, shape: Shape, settings: LaunchSettings) => [
  `lrms_n=${shape.processes}`,
  "lrms_i=0",
  "lrms_pids=",
  // a cancel reaches every copy, whoever is signalled
  `trap 'kill -TERM $lrms_pids 2>/dev/null' HUP INT TERM`,
  'while [ "$lrms_i" -lt "$lrms_n" ]; do',
  "  (LRMS_RANK=$lrms_i; LRMS_SIZE=$lrms_n; export LRMS_RANK LRMS_SIZE",
  '  if [ "$lrms_i" -eq 0 ]; then exec <&3; else exec </dev/null; fi',
  `  exec ${Payload.argv(app)} 3<&-) &`,
  '  lrms_pids="$lrms_pids $!"',
  "  lrms_i=$((lrms_i + 1))",
  // stdin on fd 3 (a background job's own stdin is /dev/null), the outputs opened once for all
  `done 3${Payload.redirections(app)}`,
  "lrms_rc=0",
  "for lrms_p in $lrms_pids; do",
  '  wait "$lrms_p"; lrms_s=$?',
  '  if [ "$lrms_rc" -eq 0 ]; then lrms_rc=$lrms_s; fi',
  "done",
  ...hook(settings.postLaunch),
  'exit "$lrms_rc"',
]

/** @internal `srun`'s options: the job step's tasks and their cores, stdin to task 0. */
const srunOptions = (app: Application, shape: Shape): Array<string> => [
  `--ntasks=${shape.processes}`,
  `--cpus-per-task=${shape.coresPerProcess}`,
  ...(shape.nodes !== undefined ? [`--nodes=${shape.nodes}`] : []),
  ...(shape.processesPerNode !== undefined ? [`--ntasks-per-node=${shape.processesPerNode}`] : []),
  ...(app.stdin !== undefined ? ["--input=0"] : []),
]

/**
 * @internal An awk program turning a host list into `host:N,host:N` (first-seen order, counts
 * summed). `-v m=` says how it is written: 1, a host per line per slot (`PBS_NODEFILE`); 2, a
 * host and its slots per line (`PE_HOSTFILE`); 3, host and count pairs (`LSB_MCPU_HOSTS`); 4, a
 * word per slot (`LSB_HOSTS`). When the counts add up to processes × cores (a scheduler counting
 * cores), they are divided into ranks.
 */
const hostsAwk = (shape: Shape): string => {
  const c = shape.coresPerProcess
  const divide = c > 1 ? `f = (t == ${shape.processes * c}) ? ${c} : 1` : "f = 1"
  return [
    "function add(h, a) { if (!(h in n)) o[++k] = h; n[h] += a; t += a }",
    "NF > 0 { if (m == 1) add($1, 1); else if (m == 2) add($1, $2);",
    "  else if (m == 3) { for (i = 1; i < NF; i += 2) add($i, $(i + 1)) }",
    "  else for (i = 1; i <= NF; i++) add($i, 1) }",
    `END { ${divide}; for (i = 1; i <= k; i++) { c = int(n[o[i]] / f); if (c < 1) c = 1;`,
    '  printf "%s%s:%d", (i > 1 ? "," : ""), o[i], c } }',
  ].join("\n")
}

/**
 * @internal Sets `lrms_hosts` to the job's hosts as `host:N,...`, from the scheduler's environment:
 * none under SLURM (MPI reads the allocation itself), `PBS_NODEFILE`, `PE_HOSTFILE`,
 * `LSB_MCPU_HOSTS` or `LSB_HOSTS`, else this host with a slot per process (the backend reserved
 * their cores).
 */
const hostLines = (shape: Shape): Array<string> => [
  `lrms_awk=${quote(hostsAwk(shape))}`,
  "lrms_hosts=",
  'if [ -n "${SLURM_JOB_ID:-}" ]; then :',
  'elif [ -n "${PBS_NODEFILE:-}" ] && [ -r "$PBS_NODEFILE" ]; then',
  '  lrms_hosts=$(awk -v m=1 "$lrms_awk" "$PBS_NODEFILE")',
  'elif [ -n "${PE_HOSTFILE:-}" ] && [ -r "$PE_HOSTFILE" ]; then',
  '  lrms_hosts=$(awk -v m=2 "$lrms_awk" "$PE_HOSTFILE")',
  'elif [ -n "${LSB_MCPU_HOSTS:-}" ]; then',
  `  lrms_hosts=$(printf '%s\\n' "$LSB_MCPU_HOSTS" | awk -v m=3 "$lrms_awk")`,
  'elif [ -n "${LSB_HOSTS:-}" ]; then',
  `  lrms_hosts=$(printf '%s\\n' "$LSB_HOSTS" | awk -v m=4 "$lrms_awk")`,
  `else lrms_hosts=localhost:${shape.processes}`,
  "fi",
]

/** @internal OpenMPI's options: ranks, their placement, and the variables every rank needs. */
const openMpiOptions = (app: Application, shape: Shape): Array<string> => [
  `-np ${shape.processes}`,
  ...(shape.processesPerNode !== undefined && (shape.nodes ?? 1) > 1
    ? [`--map-by ppr:${shape.processesPerNode}:node`]
    : []),
  // OpenMPI binds a rank to one core by default (np <= 2): its threads would share it
  ...(shape.coresPerProcess > 1 ? ["--bind-to none"] : []),
  ...[...new Set([...Object.keys(app.environment), "OMP_NUM_THREADS"])].map((k) => `-x ${k}`),
  '${lrms_hosts:+--host "$lrms_hosts"}',
]

/** @internal MPICH's (Hydra's) options: it passes the whole environment to every rank. */
const mpichOptions = (shape: Shape): Array<string> => [
  `-n ${shape.processes}`,
  ...(shape.processesPerNode !== undefined && (shape.nodes ?? 1) > 1
    ? [`-ppn ${shape.processesPerNode}`]
    : []),
  '${lrms_hosts:+-hosts "$lrms_hosts"}',
]

/** @internal `mpirun`/`mpiexec`: the MPI is told by the command's `--version`. */
const mpi = (
  name: "mpirun" | "mpiexec",
  app: Application,
  shape: Shape,
  settings: LaunchSettings,
) => {
  const cmd = commandWords(name, settings)
  const tail = `${Payload.argv(app)} ${Payload.redirections(app)}`
  return [
    ...hostLines(shape),
    `case "$(${cmd} --version 2>&1)" in`,
    `  *"Open MPI"*|*OpenRTE*) set -- ${openMpiOptions(app, shape).join(" ")} ;;`,
    `  *) set -- ${mpichOptions(shape).join(" ")} ;;`,
    "esac",
    ...between([], `${cmd} "$@" ${tail}`, settings),
  ]
}

/** @internal The lines of {@linkcode body}; a quoted value may span lines of its own. */
const lines = (app: Application, shape: Shape, settings: LaunchSettings): Array<string> => {
  const launcher = resolve(shape, settings)
  const pre = [...exports(app, shape, settings), ...hook(settings.preLaunch)]
  const tail = `${Payload.argv(app)} ${Payload.redirections(app)}`
  switch (launcher) {
    case "single":
      return between(pre, tail, settings)
    case "multiple":
      return [...pre, ...multiple(app, shape, settings)]
    case "srun":
      return between(
        pre,
        `${commandWords("srun", settings)} ${srunOptions(app, shape).join(" ")} ${tail}`,
        settings,
      )
    case "mpirun":
    case "mpiexec":
      return [...pre, ...mpi(launcher, app, shape, settings)]
  }
}

/**
 * @internal The body of the subshell that runs the payload through its launcher, and exits with
 * the payload's status. For `single` with no hooks it is GC3Pie's: the exports, then `exec` of
 * the payload.
 */
export const body = (app: Application, shape: Shape, settings: LaunchSettings = {}): string =>
  lines(app, shape, settings).join("\n")

/**
 * @internal Whether the launch is GC3Pie's: `single`, no hooks; its body is the exports and one
 * `exec` of the payload.
 */
export const isPlain = (shape: Shape, settings: LaunchSettings = {}): boolean =>
  resolve(shape, settings) === "single" && hook(settings.preLaunch).length === 0 &&
  hook(settings.postLaunch).length === 0

/**
 * @internal The payload line of a job script: {@linkcode body} in a subshell. A plain launch
 * ({@linkcode isPlain}) stays on one line (`(export A='1'; ...; exec 'prog' ...)`), the form
 * GC3Pie-style jobs always had.
 */
export const subshell = (app: Application, shape: Shape, settings: LaunchSettings = {}): string => {
  const all = lines(app, shape, settings)
  return isPlain(shape, settings) ? `(${all.join("; ")})` : `(\n${all.join("\n")}\n)`
}
