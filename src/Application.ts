/**
 * The description of a job (GC3Pie's `Application`): what to run, which files to stage in and
 * out, and what it needs.
 *
 * {@linkcode make} takes a loose, hand-written input (inputs as a record or a list, quantities as
 * strings) and applies every rule of GC3Pie's Application: remote names are relative and unique,
 * `stdin` is staged and `stdout`/`stderr` are added to the outputs, `join` is forced when
 * `stderr` equals `stdout`, and the job name is made safe for every scheduler. Invalid input fails
 * with an `LrmsError` whose reason is `InvalidArgument` and whose message names the field.
 *
 * A parallel job also says how its cores are arranged: `nodes`, `processes`, `processesPerNode`,
 * `coresPerProcess`, `gpusPerProcess`, `exclusive` and its `launcher`. `make` infers what is
 * missing (`processes = nodes × processesPerNode`, `requestedCores = processes ×
 * coresPerProcess`) and refuses what cannot be, naming the fields; {@linkcode shape} gives the
 * normalised shape every backend maps.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Application } from "effect-lrms"
 *
 * const app = Effect.runSync(Application.make({
 *   arguments: ["/bin/echo", "hello world"],
 *   stdout: "out.txt",
 *   requestedMemory: "1 GB",
 *   requestedWalltime: "10 min",
 * }))
 * deepStrictEqual(app.outputs, [{ remote: "out.txt", destination: "out.txt" }])
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { decodeOrFail } from "./internal/decode.ts"
import * as Launch from "./internal/launcher.ts"
import { LrmsError } from "./LrmsError.ts"
import * as Quantity from "./Quantity.ts"
import * as Resource from "./Resource.ts"
import * as TransferUrl from "./TransferUrl.ts"

// =============================================================================
// Field schemas
// =============================================================================

/**
 * Checks a relative path that must stay inside its base directory; returns an error message or
 * `undefined` when the path is fine.
 *
 * @since 0.1.0
 * @category predicates
 */
export const relativePathProblem = (path: string): string | undefined => {
  if (path.length === 0) return "the path is empty"
  if (path.includes("\0")) return "the path contains a NUL byte"
  if (path.startsWith("/")) return `${JSON.stringify(path)} is absolute; it must be relative`
  const segments = path.split("/")
  if (segments.includes("..")) {
    return `${JSON.stringify(path)} leaves its directory ("..")`
  }
  if (segments.every((s) => s === "" || s === ".")) {
    return `${JSON.stringify(path)} names no file`
  }
  return undefined
}

/**
 * Normalises a relative path: drops `.` and empty segments (`./a//b` → `a/b`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const normalizeRelative = (path: string): string =>
  path.split("/").filter((s) => s !== "" && s !== ".").join("/")

/**
 * A path relative to the job's directory that cannot leave it.
 *
 * @since 0.1.0
 * @category models
 */
export const RelativePath: Schema.Schema<string, string> = Schema.transform(
  Schema.String.pipe(Schema.filter((p) => relativePathProblem(p) ?? true)),
  // the arbitrary sits on the decoded side, which is where `Arbitrary.make` looks
  Schema.String.annotations({
    arbitrary: () => (fc) =>
      fc.array(fc.stringMatching(/^[a-zA-Z0-9 _.'"$-]{1,10}$/), { minLength: 1, maxLength: 3 })
        .map((segs) => segs.filter((s) => s !== "." && s !== "..").join("/"))
        .filter((p) => relativePathProblem(p) === undefined),
  }),
  { strict: true, decode: normalizeRelative, encode: (s) => s },
).annotations({ identifier: "RelativePath" })

/**
 * The remote name `*`, which stands for the whole job directory among the outputs.
 *
 * @since 0.1.0
 * @category models
 */
export const ANY_OUTPUT = "*"

const EnvName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    message: (i) =>
      `environment variable names are letters, digits and "_", not starting with a digit; got ${
        JSON.stringify(i.actual)
      }`,
  }),
)

const NoNul = Schema.String.pipe(
  Schema.filter((s) => !s.includes("\0") || "a NUL byte cannot be passed to a process"),
)

const PositiveInt = Schema.Int.pipe(
  Schema.positive({ message: (i) => `expected a whole number above 0, got ${i.actual}` }),
)

/**
 * One input file: where it comes from, and its name in the job directory.
 *
 * @since 0.1.0
 * @category models
 */
export const Input: Schema.Struct<{
  source: Schema.Schema<string, string>
  remote: Schema.Schema<string, string>
}> = Schema.Struct({ source: TransferUrl.AnyUrl, remote: RelativePath })

/**
 * One input file.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = typeof Input.Type

/**
 * One output: its name in the job directory (or `*` for all of it) and where it goes, as a path
 * relative to the download directory or a URL.
 *
 * @since 0.1.0
 * @category models
 */
export const Output: Schema.Struct<{
  remote: Schema.Union<[Schema.Literal<["*"]>, Schema.Schema<string, string>]>
  destination: Schema.filter<typeof Schema.String>
}> = Schema.Struct({
  remote: Schema.Union(Schema.Literal(ANY_OUTPUT), RelativePath),
  destination: Schema.String.pipe(
    Schema.filter((d) => {
      if (d === "") return true
      if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(d)) return true
      return relativePathProblem(d) ?? true
    }),
  ),
})

/**
 * One output.
 *
 * @since 0.1.0
 * @category models
 */
export type Output = typeof Output.Type

// =============================================================================
// Parallel shape
// =============================================================================

/**
 * The launchers, in the order of the README's table.
 *
 * @since 0.1.0
 * @category models
 */
export const launchers: typeof Launch.launchers = Launch.launchers

/**
 * How a job's payload starts: `single` runs it once (GC3Pie's behaviour); `multiple` runs one
 * copy per process on the job's first node; `srun`, `mpirun` and `mpiexec` start the ranks
 * through SLURM or MPI.
 *
 * @since 0.1.0
 * @category models
 */
export const Launcher: Schema.Literal<typeof launchers> = Launch.LauncherSchema

/**
 * How a job's payload starts.
 *
 * @since 0.1.0
 * @category models
 */
export type Launcher = typeof Launcher.Type

/**
 * The normalised parallel shape of a job, as {@linkcode shape} returns it: every inferable field
 * filled in, `requestedCores = processes × coresPerProcess`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shape {
  /** Nodes the job spans; `undefined`: the scheduler decides. */
  readonly nodes: number | undefined
  /** Processes (ranks) in all, at least 1. */
  readonly processes: number
  /** Processes on each node; `undefined` when the nodes are not fixed. */
  readonly processesPerNode: number | undefined
  /** Cores of each process, at least 1. */
  readonly coresPerProcess: number
  /** GPUs of each process, 0 when none. */
  readonly gpusPerProcess: number
  /** Whether the job's nodes are its own. */
  readonly exclusive: boolean
  /** The application's launcher; `undefined`: the resource's default, else `single`. */
  readonly launcher: Launcher | undefined
}

/**
 * The shape fields as written by a user or stored in a job (each may be absent).
 *
 * @since 0.1.0
 * @category models
 */
export interface ShapeFields {
  /** Nodes. */
  readonly nodes?: number | undefined
  /** Processes in all. */
  readonly processes?: number | undefined
  /** Processes on each node. */
  readonly processesPerNode?: number | undefined
  /** Cores of each process. */
  readonly coresPerProcess?: number | undefined
  /** GPUs of each process. */
  readonly gpusPerProcess?: number | undefined
  /** Whole nodes. */
  readonly exclusive?: boolean | undefined
  /** Launcher. */
  readonly launcher?: Launcher | undefined
  /** Total cores. */
  readonly requestedCores?: number | undefined
}

/**
 * Why a set of shape fields cannot describe a job: the fields involved, and what is wrong.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShapeProblem {
  /** The fields that disagree, as the user names them. */
  readonly fields: ReadonlyArray<string>
  /** What is wrong, in words. */
  readonly message: string
}

type Split = Pick<Shape, "nodes" | "processes" | "processesPerNode">

const problem = (fields: ReadonlyArray<string>, message: string) =>
  Either.left<ShapeProblem>({ fields, message })

/** Nodes, processes and processes per node, inferred from those given. */
const inferSplit = (f: ShapeFields): Either.Either<Split, ShapeProblem> => {
  const { nodes: n, processes: p, processesPerNode: q } = f
  if (n !== undefined && q !== undefined) {
    if (p !== undefined && p !== n * q) {
      return problem(
        ["processes", "nodes", "processesPerNode"],
        `${p} processes requested, but ${n} node(s) × ${q} per node make ${n * q}`,
      )
    }
    return Either.right({ nodes: n, processes: n * q, processesPerNode: q })
  }
  if (n !== undefined && p !== undefined) {
    if (p < n) {
      return problem(["processes", "nodes"], `${p} process(es) cannot occupy ${n} nodes`)
    }
    if (p % n !== 0) {
      return problem(
        ["processes", "nodes"],
        `${p} processes do not split evenly over ${n} nodes (give a multiple of ${n})`,
      )
    }
    return Either.right({ nodes: n, processes: p, processesPerNode: p / n })
  }
  if (q !== undefined && p !== undefined) {
    if (p % q !== 0) {
      return problem(
        ["processes", "processesPerNode"],
        `${p} processes do not fill whole nodes of ${q} (give a multiple of ${q})`,
      )
    }
    return Either.right({ nodes: p / q, processes: p, processesPerNode: q })
  }
  if (n !== undefined) return Either.right({ nodes: n, processes: n, processesPerNode: 1 })
  if (q !== undefined) return Either.right({ nodes: 1, processes: q, processesPerNode: q })
  return Either.right({ nodes: undefined, processes: p ?? 1, processesPerNode: undefined })
}

/** Cores per process, from `coresPerProcess` or `requestedCores / processes`. */
const inferCores = (
  f: ShapeFields,
  processes: number,
): Either.Either<number, ShapeProblem> => {
  const { coresPerProcess: c, requestedCores: r } = f
  if (c !== undefined) {
    return r !== undefined && r !== processes * c
      ? problem(
        ["requestedCores", "processes", "coresPerProcess"],
        `${r} cores requested, but ${processes} process(es) × ${c} core(s) make ${processes * c}`,
      )
      : Either.right(c)
  }
  if (r === undefined) return Either.right(1)
  return r % processes !== 0
    ? problem(
      ["requestedCores", "processes"],
      `${r} cores do not split evenly over ${processes} processes (set coresPerProcess, or ` +
        `requestedCores to a multiple of ${processes})`,
    )
    : Either.right(r / processes)
}

/**
 * Infers the missing shape fields from those given and refuses what cannot be: `processes =
 * nodes × processesPerNode`, an uneven split over the nodes, more nodes than processes, and
 * `requestedCores` unequal to `processes × coresPerProcess` (pure).
 *
 * @since 0.1.0
 * @category constructors
 */
export const inferShape = (
  fields: ShapeFields,
): Either.Either<Shape & { readonly requestedCores: number }, ShapeProblem> =>
  Either.flatMap(
    inferSplit(fields),
    (split) =>
      fields.launcher === "multiple" && (split.nodes ?? 1) > 1
        ? problem(
          ["launcher", "nodes"],
          `the multiple launcher starts every copy on the first node; ask for 1 node, or use ` +
            `srun or mpirun to spread ${split.processes} processes over ${split.nodes} nodes`,
        )
        : Either.map(inferCores(fields, split.processes), (coresPerProcess) => ({
          ...split,
          coresPerProcess,
          gpusPerProcess: fields.gpusPerProcess ?? 0,
          exclusive: fields.exclusive ?? false,
          launcher: fields.launcher,
          requestedCores: split.processes * coresPerProcess,
        })),
  )

// =============================================================================
// Application
// =============================================================================

const applicationFields = {
  /** The command and its arguments; each reaches the job exactly as given. */
  arguments: Schema.NonEmptyArray(NoNul).pipe(
    Schema.filter((a) => a[0].length > 0 || "the command (arguments[0]) is empty"),
  ),
  /** Files staged into the job directory before it starts. */
  inputs: Schema.Array(Input),
  /** Files fetched from the job directory by `getResults`. */
  outputs: Schema.Array(Output),
  /** The staged file the job reads as standard input. */
  stdin: Schema.optional(RelativePath),
  /** The file the job's standard output goes to. */
  stdout: Schema.optional(RelativePath),
  /** The file the job's standard error goes to (equal to `stdout` when `join`). */
  stderr: Schema.optional(RelativePath),
  /** Whether standard error goes to the standard output file. */
  join: Schema.Boolean,
  /** Environment variables set for the job; values are passed as they are, never expanded. */
  environment: Schema.Record({ key: EnvName, value: NoNul }),
  /** Cores the job needs. */
  requestedCores: PositiveInt,
  /** Memory the whole job needs. */
  requestedMemory: Schema.optional(Quantity.MemoryFromInput),
  /** Wall-clock time the job needs. */
  requestedWalltime: Schema.optional(Quantity.DurationFromInput),
  /** The architecture the job needs. */
  requestedArchitecture: Schema.optional(Resource.Architecture),
  /** The job name, safe for every scheduler (ASCII letter first, then `[A-Za-z0-9._-]`). */
  jobname: Schema.String.pipe(Schema.pattern(/^[A-Za-z][A-Za-z0-9._-]*$/)),
  /** The default local directory for `getResults`. */
  outputDir: Schema.optional(Schema.String),
  /** A class name for per-application configuration keys (`<name>_pe`, ...). */
  applicationName: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]+$/)),
  /** Nodes the job spans; absent: the scheduler decides. */
  nodes: Schema.optional(PositiveInt),
  /** Processes (ranks) in all; absent: 1, or inferred from `nodes × processesPerNode`. */
  processes: Schema.optional(PositiveInt),
  /** Processes on each node. */
  processesPerNode: Schema.optional(PositiveInt),
  /** Cores of each process (its threads); `requestedCores = processes × coresPerProcess`. */
  coresPerProcess: Schema.optional(PositiveInt),
  /** GPUs of each process (absent: none). */
  gpusPerProcess: Schema.optional(Schema.NonNegativeInt),
  /** Whether the job's nodes are its own (no other job shares them). */
  exclusive: Schema.optional(Schema.Boolean),
  /** How the payload starts; absent: the resource's default launcher, else `single`. */
  launcher: Schema.optional(Launcher),
}

/** The stored shape fields are consistent (`requestedCores = processes × coresPerProcess`, ...). */
const consistentShape = Schema.Struct(applicationFields).pipe(
  Schema.filter((a) => {
    const problem = inferShape(a)
    return Either.isLeft(problem)
      ? `${problem.left.fields.join(", ")}: ${problem.left.message}`
      : true
  }),
)

/**
 * A decoded, valid job description. Build one with {@linkcode make}.
 *
 * @since 0.1.0
 * @category models
 */
export class Application extends Schema.Class<Application>("Application")(consistentShape) {}

/**
 * What {@linkcode make} accepts: the fields of an {@linkcode Application}, in looser forms.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApplicationInput {
  /** The command and its arguments. */
  readonly arguments: ReadonlyArray<string>
  /**
   * Input files: a record `source → remote name`, or a list of sources (staged under their
   * base names), `[source, remote]` pairs or `{ source, remote }` objects.
   */
  readonly inputs?:
    | Readonly<Record<string, string>>
    | ReadonlyArray<string | readonly [string, string] | { source: string; remote: string }>
  /**
   * Outputs: a record `remote name → destination`, or a list of names (kept under the same
   * name), `[remote, destination]` pairs or `{ remote, destination }` objects. `*` = everything.
   */
  readonly outputs?:
    | Readonly<Record<string, string>>
    | ReadonlyArray<
      string | readonly [string, string] | { remote: string; destination: string }
    >
  /** A local file to feed to the job's standard input (staged under its base name). */
  readonly stdin?: string
  /** The remote file for standard output. */
  readonly stdout?: string
  /** The remote file for standard error. */
  readonly stderr?: string
  /** Send standard error to the standard output file. */
  readonly join?: boolean
  /** Environment variables. */
  readonly environment?: Readonly<Record<string, string>>
  /** Cores (default 1). */
  readonly requestedCores?: number
  /** Memory for the whole job: bytes or a string such as `"4 GB"`. */
  readonly requestedMemory?: number | string
  /** Wall-clock time: a string such as `"2 hours"` or a `Duration`. */
  readonly requestedWalltime?: string | Duration.Duration
  /** Architecture (`x86_64`, `aarch64`, ...). */
  readonly requestedArchitecture?: string
  /** The job name (sanitised; generated when absent). */
  readonly jobname?: string
  /** Default download directory. */
  readonly outputDir?: string
  /** The application's class name (default `generic`). */
  readonly applicationName?: string
  /** Nodes the job spans (default: the scheduler decides). */
  readonly nodes?: number
  /** Processes (ranks) in all (default 1, or `nodes × processesPerNode`). */
  readonly processes?: number
  /** Processes on each node. */
  readonly processesPerNode?: number
  /** Cores of each process (default `requestedCores / processes`, else 1). */
  readonly coresPerProcess?: number
  /** GPUs of each process (default 0). */
  readonly gpusPerProcess?: number
  /** Whole nodes for the job alone (default false). */
  readonly exclusive?: boolean
  /** How the payload starts (default: the resource's launcher, else `single`). */
  readonly launcher?: Launcher
}

const basename = (path: string): string => {
  const parts = TransferUrl.toPath(path).split("/").filter((s) => s.length > 0)
  return parts[parts.length - 1] ?? ""
}

/**
 * Makes a job name safe for every scheduler: ASCII only, characters outside `[A-Za-z0-9._-]`
 * become `_`, and a name that does not start with a letter gets the prefix `lrms.` (SGE refuses
 * names starting with a digit). Returns `undefined` for an empty name.
 *
 * @since 0.1.0
 * @category predicates
 */
export const sanitizeJobname = (name: string): string | undefined => {
  const ascii = name.normalize("NFKD").replace(/[^\x20-\x7e]/g, "")
  const safe = ascii.trim().replace(/[^A-Za-z0-9._-]/g, "_")
  if (safe.length === 0) return undefined
  return /^[A-Za-z]/.test(safe) ? safe : `lrms.${safe}`
}

type Fail = (field: string, message: string) => LrmsError
const invalid: Fail = (field, message) =>
  new LrmsError({
    reason: "InvalidArgument",
    backend: "Application",
    operation: "make",
    description: `${field}: ${message}`,
  })

const isRecord = (u: unknown): u is Readonly<Record<string, string>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const normaliseInputs = (input: ApplicationInput): Array<{ source: string; remote: string }> => {
  const raw = input.inputs
  if (raw === undefined) return []
  if (isRecord(raw)) return Object.entries(raw).map(([source, remote]) => ({ source, remote }))
  return raw.map((item) =>
    typeof item === "string"
      ? { source: item, remote: basename(item) }
      : Array.isArray(item)
      ? { source: item[0] as string, remote: item[1] as string }
      : item as { source: string; remote: string }
  )
}

const normaliseOutputs = (
  input: ApplicationInput,
): Array<{ remote: string; destination: string }> => {
  const raw = input.outputs
  if (raw === undefined) return []
  if (isRecord(raw)) {
    return Object.entries(raw).map(([remote, destination]) => ({ remote, destination }))
  }
  return raw.map((item) =>
    typeof item === "string"
      ? { remote: item, destination: item === ANY_OUTPUT ? "" : item }
      : Array.isArray(item)
      ? { remote: item[0] as string, destination: item[1] as string }
      : item as { remote: string; destination: string }
  )
}

const decodeApplication = decodeOrFail(Application, "Application", "make")

/** Every field {@linkcode make} reads; any other key is refused (a typo is not a default). */
const inputFields: { readonly [K in keyof Required<ApplicationInput>]: true } = {
  arguments: true,
  inputs: true,
  outputs: true,
  stdin: true,
  stdout: true,
  stderr: true,
  join: true,
  environment: true,
  requestedCores: true,
  requestedMemory: true,
  requestedWalltime: true,
  requestedArchitecture: true,
  jobname: true,
  outputDir: true,
  applicationName: true,
  nodes: true,
  processes: true,
  processesPerNode: true,
  coresPerProcess: true,
  gpusPerProcess: true,
  exclusive: true,
  launcher: true,
}

const countFields = ["nodes", "processes", "processesPerNode", "coresPerProcess"] as const
const shapeFields = [...countFields, "gpusPerProcess", "exclusive", "launcher"] as const

/** The first shape field of the wrong type, described. */
const shapeTypeProblem = (input: ApplicationInput): LrmsError | undefined => {
  for (const field of [...countFields, "requestedCores"] as const) {
    const v = input[field]
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
      return invalid(field, `expected a whole number above 0, got ${String(v)}`)
    }
  }
  const g = input.gpusPerProcess
  if (g !== undefined && !(Number.isSafeInteger(g) && g >= 0)) {
    return invalid("gpusPerProcess", `expected a whole number, 0 or more, got ${String(g)}`)
  }
  if (input.exclusive !== undefined && typeof input.exclusive !== "boolean") {
    return invalid("exclusive", `expected true or false, got ${String(input.exclusive)}`)
  }
  if (
    input.launcher !== undefined && !(launchers as ReadonlyArray<unknown>).includes(input.launcher)
  ) {
    return invalid(
      "launcher",
      `expected one of ${launchers.join(", ")}, got ${JSON.stringify(input.launcher)}`,
    )
  }
  return undefined
}

/**
 * The shape fields `make` stores: none when the input names none (a GC3Pie-style job keeps its
 * old form), else every inferred count plus the fields given.
 */
const storedShape = (
  input: ApplicationInput,
): Either.Either<Record<string, unknown> & { requestedCores: number }, LrmsError> =>
  Either.match(inferShape(input), {
    onLeft: (p) => Either.left(invalid(p.fields.join(", "), p.message)),
    onRight: (shape) => {
      if (!shapeFields.some((k) => input[k] !== undefined)) {
        return Either.right({ requestedCores: shape.requestedCores })
      }
      const stored: Record<string, unknown> & { requestedCores: number } = {
        requestedCores: shape.requestedCores,
      }
      for (const k of countFields) if (shape[k] !== undefined) stored[k] = shape[k]
      for (const k of ["gpusPerProcess", "exclusive", "launcher"] as const) {
        if (input[k] !== undefined) stored[k] = input[k]
      }
      return Either.right(stored)
    },
  })

/**
 * Builds an {@linkcode Application} from a loose description, applying GC3Pie's rules and
 * inferring the parallel shape ({@linkcode inferShape}); an impossible shape fails naming its
 * fields (`processes, nodes: 3 processes do not split evenly over 2 nodes ...`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: ApplicationInput): Effect.Effect<Application, LrmsError> =>
  Effect.suspend(() => {
    if (typeof input !== "object" || input === null) {
      return Effect.fail(invalid("application", "expected an object"))
    }
    const unknown = Object.keys(input).filter((k) => !Object.hasOwn(inputFields, k))
    if (unknown.length > 0) {
      return Effect.fail(
        invalid(
          unknown[0]!,
          `unknown field${unknown.length > 1 ? "s" : ""} ${
            unknown.map((k) => JSON.stringify(k)).join(", ")
          } (the fields are ${Object.keys(inputFields).join(", ")})`,
        ),
      )
    }
    if (!Array.isArray(input.arguments) || input.arguments.length === 0) {
      return Effect.fail(invalid("arguments", "must name a command"))
    }
    const inputs = normaliseInputs(input)
    const outputs = normaliseOutputs(input)
    let stdin: string | undefined
    if (input.stdin !== undefined) {
      const name = basename(input.stdin)
      if (name === "") return Effect.fail(invalid("stdin", "names no file"))
      // the same file may already be an input; another file under the same name is a
      // duplicate remote name (reported by the uniqueness check below)
      const url = (u: string) => Either.getOrElse(TransferUrl.normalize(u), () => u)
      const same = inputs.some((i) =>
        normalizeRelative(String(i.remote)) === name && url(String(i.source)) === url(input.stdin!)
      )
      if (!same) inputs.push({ source: input.stdin, remote: name })
      stdin = name
    }
    let join = input.join ?? false
    let stderr = input.stderr
    const stdout = input.stdout
    const sameFile = stderr !== undefined && stdout !== undefined &&
      (stderr === stdout || normalizeRelative(stderr) === normalizeRelative(stdout))
    if (join || sameFile) {
      if (stdout === undefined) return Effect.fail(invalid("join", "join needs stdout"))
      join = true
      stderr = stdout
    }
    const hasAll = outputs.some((o) => o.remote === ANY_OUTPUT)
    for (const name of [stdout, join ? undefined : stderr]) {
      if (name === undefined || hasAll) continue
      const norm = relativePathProblem(name) === undefined ? normalizeRelative(name) : name
      if (!outputs.some((o) => normalizeRelative(o.remote) === norm)) {
        outputs.push({ remote: name, destination: name })
      }
    }
    // uniqueness, checked on normalised names so `a` and `./a` collide
    const seenRemote = new Map<string, number>()
    for (const [i, inp] of inputs.entries()) {
      const key = normalizeRelative(String(inp.remote))
      if (seenRemote.has(key)) {
        return Effect.fail(
          invalid(`inputs.${i}.remote`, `remote name ${JSON.stringify(inp.remote)} is used twice`),
        )
      }
      seenRemote.set(key, i)
    }
    const seenDest = new Set<string>()
    for (const [i, out] of outputs.entries()) {
      const key = normalizeRelative(String(out.destination))
      if (out.remote !== ANY_OUTPUT && seenDest.has(key)) {
        return Effect.fail(
          invalid(
            `outputs.${i}.destination`,
            `destination ${JSON.stringify(out.destination)} is used twice`,
          ),
        )
      }
      seenDest.add(key)
    }
    const badType = shapeTypeProblem(input)
    if (badType !== undefined) return Effect.fail(badType)
    const shapeOrError = storedShape(input)
    if (Either.isLeft(shapeOrError)) return Effect.fail(shapeOrError.left)
    const applicationName = input.applicationName ?? "generic"
    const jobname = (input.jobname === undefined ? undefined : sanitizeJobname(input.jobname)) ??
      `lrms.${applicationName.replace(/[^A-Za-z0-9_-]/g, "_")}.${crypto.randomUUID().slice(0, 8)}`
    const encoded = {
      arguments: input.arguments,
      inputs,
      outputs,
      ...(stdin !== undefined ? { stdin } : {}),
      ...(stdout !== undefined ? { stdout } : {}),
      ...(stderr !== undefined ? { stderr } : {}),
      join,
      environment: input.environment ?? {},
      ...shapeOrError.right,
      ...(input.requestedMemory !== undefined ? { requestedMemory: input.requestedMemory } : {}),
      ...(input.requestedWalltime !== undefined
        ? { requestedWalltime: input.requestedWalltime }
        : {}),
      ...(input.requestedArchitecture !== undefined
        ? { requestedArchitecture: input.requestedArchitecture }
        : {}),
      jobname,
      ...(input.outputDir !== undefined ? { outputDir: input.outputDir } : {}),
      applicationName,
    }
    return decodeApplication(encoded)
  })

/**
 * The URLs of every input source and every output destination, as `validateData` takes them
 * (a relative output destination counts as a `file:` URL).
 *
 * @since 0.1.0
 * @category accessors
 */
export const dataUrls = (
  app: Application,
): ReadonlyArray<{ readonly field: string; readonly url: string }> => [
  ...app.inputs.map((i, n) => ({ field: `inputs.${n}.source`, url: i.source })),
  ...app.outputs.map((o, n) => ({
    field: `outputs.${n}.destination`,
    url: /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(o.destination) ? o.destination : "file:///",
  })),
]

/**
 * The job's normalised parallel shape: the fields it gives, and those inferred from them
 * (`processes` defaults to 1, `coresPerProcess` to `requestedCores / processes`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Application } from "effect-lrms"
 *
 * const app = Effect.runSync(Application.make({
 *   arguments: ["./simulate"],
 *   nodes: 2,
 *   processesPerNode: 4,
 *   coresPerProcess: 2,
 *   launcher: "mpirun",
 * }))
 * deepStrictEqual(Application.shape(app), {
 *   nodes: 2,
 *   processes: 8,
 *   processesPerNode: 4,
 *   coresPerProcess: 2,
 *   gpusPerProcess: 0,
 *   exclusive: false,
 *   launcher: "mpirun",
 * })
 * deepStrictEqual(app.requestedCores, 16)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const shape = (app: Application): Shape => {
  const inferred = inferShape(app)
  // a decoded Application is consistent; one built without validation gets a lenient reading
  const s: Shape = Either.isRight(inferred) ? inferred.right : {
    nodes: app.nodes,
    processes: app.processes ?? 1,
    processesPerNode: app.processesPerNode,
    coresPerProcess: app.coresPerProcess ?? 1,
    gpusPerProcess: app.gpusPerProcess ?? 0,
    exclusive: app.exclusive ?? false,
    launcher: app.launcher,
  }
  return {
    nodes: s.nodes,
    processes: s.processes,
    processesPerNode: s.processesPerNode,
    coresPerProcess: s.coresPerProcess,
    gpusPerProcess: s.gpusPerProcess,
    exclusive: s.exclusive,
    launcher: s.launcher,
  }
}
