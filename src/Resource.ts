/**
 * What a resource is (its static attributes) and how busy it is (`ResourceStatus`).
 *
 * The static attributes are the ones every backend shares, decoded from a configuration by
 * {@linkcode ResourceConfig}: quantities may be given as strings (`"4 GB"`, `"8 hours"`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Resource } from "effect-lrms"
 *
 * const r = Effect.runSync(Resource.decodeConfig({
 *   name: "laptop",
 *   architecture: "x86_64",
 *   maxCores: 4,
 *   maxCoresPerJob: 2,
 *   maxMemoryPerCore: "2 GiB",
 *   maxWalltime: "8 hours",
 * }))
 * deepStrictEqual(r.maxMemoryPerCore, 2147483648)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { decodeOrFail } from "./internal/decode.ts"
import * as Launch from "./internal/launcher.ts"
import type { LrmsError } from "./LrmsError.ts"
import * as Quantity from "./Quantity.ts"

/**
 * The processor architectures a resource may have.
 *
 * @since 0.1.0
 * @category models
 */
export const ArchitectureName: Schema.Literal<["x86_64", "i686", "aarch64", "ppc64le", "riscv64"]> =
  Schema.Literal("x86_64", "i686", "aarch64", "ppc64le", "riscv64")

/**
 * A processor architecture.
 *
 * @since 0.1.0
 * @category models
 */
export type Architecture = typeof ArchitectureName.Type

const aliases: Readonly<Record<string, Architecture>> = {
  "x86_64": "x86_64",
  "amd64": "x86_64",
  "x64": "x86_64",
  "x86-64": "x86_64",
  "i386": "i686",
  "i486": "i686",
  "i586": "i686",
  "i686": "i686",
  "x86": "i686",
  "aarch64": "aarch64",
  "arm64": "aarch64",
  "ppc64le": "ppc64le",
  "riscv64": "riscv64",
}

/**
 * Reads an architecture name as `uname -m` or a user writes it (`amd64`, `arm64`, `i386`, ...).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArchitecture = (name: string): Architecture | undefined =>
  aliases[name.trim().toLowerCase()]

/**
 * An architecture decoded from any of its usual names.
 *
 * @since 0.1.0
 * @category models
 */
export const Architecture: Schema.Schema<Architecture, string> = Schema.transform(
  Schema.String.pipe(
    Schema.filter((s) => parseArchitecture(s) !== undefined, {
      message: (i) =>
        `unknown architecture ${JSON.stringify(i.actual)} (known: x86_64, i686, aarch64, ` +
        `ppc64le, riscv64 and their aliases)`,
    }),
  ),
  ArchitectureName,
  { strict: true, decode: (s) => parseArchitecture(s)!, encode: (a) => a },
).annotations({ identifier: "Architecture" })

/**
 * A non-empty set of architectures, given as an array or a comma-separated string.
 *
 * @since 0.1.0
 * @category models
 */
export const Architectures: Schema.Schema<
  readonly [Architecture, ...Array<Architecture>],
  string | ReadonlyArray<string>
> = Schema.transform(
  Schema.Union(Schema.String, Schema.Array(Schema.String)),
  Schema.NonEmptyArray(Architecture),
  {
    strict: false,
    decode: (input) =>
      typeof input === "string"
        ? input.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
        : input,
    encode: (a) => a,
  },
).annotations({ identifier: "Architectures" })

const PositiveInt = Schema.Int.pipe(
  Schema.positive({ message: (i) => `expected a whole number above 0, got ${i.actual}` }),
)

/**
 * The name of a resource: letters, digits, `.`, `_` and `-`.
 *
 * @since 0.1.0
 * @category models
 */
export const ResourceName: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: (i) =>
      `a resource name is letters, digits, ".", "_" and "-", got ${JSON.stringify(i.actual)}`,
  }),
)

/**
 * The static attributes every backend shares, as they are decoded from a configuration.
 *
 * @since 0.1.0
 * @category models
 */
export const ResourceConfig: Schema.Struct<{
  name: Schema.filter<typeof Schema.String>
  architecture: typeof Architectures
  maxCores: Schema.filter<typeof Schema.Int>
  maxCoresPerJob: Schema.optional<Schema.filter<typeof Schema.Int>>
  maxMemoryPerCore: typeof Quantity.MemoryFromInput
  maxWalltime: typeof Quantity.DurationFromInput
  enabled: Schema.optionalWith<typeof Schema.Boolean, { default: () => true }>
  maxNodesPerJob: Schema.optional<Schema.filter<typeof Schema.Int>>
  coresPerNode: Schema.optional<Schema.filter<typeof Schema.Int>>
  gpusPerNode: Schema.optional<typeof Schema.NonNegativeInt>
  launcher: Schema.optional<typeof Launch.LauncherSchema>
  launcherCommands: Schema.optional<
    Schema.Struct<{
      srun: Schema.optional<typeof Launch.CommandLine>
      mpirun: Schema.optional<typeof Launch.CommandLine>
      mpiexec: Schema.optional<typeof Launch.CommandLine>
    }>
  >
  preLaunch: Schema.optional<typeof Schema.String>
  postLaunch: Schema.optional<typeof Schema.String>
}> = Schema.Struct({
  name: ResourceName,
  architecture: Architectures,
  maxCores: PositiveInt,
  maxCoresPerJob: Schema.optional(PositiveInt),
  maxMemoryPerCore: Quantity.MemoryFromInput,
  maxWalltime: Quantity.DurationFromInput,
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Most nodes one job may span (absent: not checked). */
  maxNodesPerJob: Schema.optional(PositiveInt),
  /** Cores of one node (absent: not checked). */
  coresPerNode: Schema.optional(PositiveInt),
  /** GPUs of one node; 0 refuses GPU jobs, absent leaves them to the scheduler. */
  gpusPerNode: Schema.optional(Schema.NonNegativeInt),
  /** The launcher of applications that name none (absent: `single`). */
  launcher: Schema.optional(Launch.LauncherSchema),
  /** Launcher command lines: path then options (`mpirun: "mpirun --oversubscribe"`). */
  launcherCommands: Schema.optional(Schema.Struct({
    srun: Schema.optional(Launch.CommandLine),
    mpirun: Schema.optional(Launch.CommandLine),
    mpiexec: Schema.optional(Launch.CommandLine),
  })),
  /** Shell text run once before each job's payload starts, on its first node. */
  preLaunch: Schema.optional(Schema.String),
  /** Shell text run once after each job's payload ends (`$lrms_rc`: its exit status). */
  postLaunch: Schema.optional(Schema.String),
})

/**
 * What a configuration gives for the static attributes (quantities may be strings).
 *
 * @since 0.1.0
 * @category models
 */
export type ResourceConfigInput = typeof ResourceConfig.Encoded

/**
 * The static attributes of a resource.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resource {
  /** The unique name of the resource (GC3Pie's `[resource/NAME]`). */
  readonly name: string
  /** The backend type: `shellcmd`, `slurm`, `pbs`, `sge`, `lsf`. */
  readonly type: string
  /** The architectures the resource runs. */
  readonly architecture: readonly [Architecture, ...Array<Architecture>]
  /** Total cores the library may use on the resource. */
  readonly maxCores: number
  /** Most cores one job may ask for. */
  readonly maxCoresPerJob: number
  /** Most memory one job may ask for per core. */
  readonly maxMemoryPerCore: Quantity.Memory
  /** Longest wall-clock time one job may ask for. */
  readonly maxWalltime: Duration.Duration
  /** Whether the resource takes new jobs. */
  readonly enabled: boolean
  /** Most nodes one job may span, when known. */
  readonly maxNodesPerJob?: number | undefined
  /** Cores of one node, when known. */
  readonly coresPerNode?: number | undefined
  /** GPUs of one node, when known (0: none). */
  readonly gpusPerNode?: number | undefined
  /** The launcher of applications that name none (absent: `single`). */
  readonly launcher?: Launch.Launcher | undefined
}

/**
 * Decodes the shared static attributes, failing with an `InvalidArgument` that names the field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeConfig = (
  input: unknown,
  backend = "resource",
): Effect.Effect<Omit<Resource, "type">, LrmsError> =>
  decodeOrFail(ResourceConfig, backend, "config", "ConfigurationError")(input) as Effect.Effect<
    Omit<Resource, "type">,
    LrmsError
  >

/**
 * Builds the static attributes from decoded configuration (fills `maxCoresPerJob`; the parallel
 * limits and the default launcher are kept when given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (type: string, config: typeof ResourceConfig.Type): Resource => ({
  name: config.name,
  type,
  architecture: config.architecture,
  maxCores: config.maxCores,
  maxCoresPerJob: Math.min(config.maxCoresPerJob ?? config.maxCores, config.maxCores),
  maxMemoryPerCore: config.maxMemoryPerCore,
  maxWalltime: config.maxWalltime,
  enabled: config.enabled,
  ...(config.maxNodesPerJob !== undefined ? { maxNodesPerJob: config.maxNodesPerJob } : {}),
  ...(config.coresPerNode !== undefined ? { coresPerNode: config.coresPerNode } : {}),
  ...(config.gpusPerNode !== undefined ? { gpusPerNode: config.gpusPerNode } : {}),
  ...(config.launcher !== undefined ? { launcher: config.launcher } : {}),
})

/**
 * How busy a resource is now (GC3Pie's dynamic attributes). `freeSlots` is −1 when the resource
 * cannot tell.
 *
 * @since 0.1.0
 * @category models
 */
export class ResourceStatus extends Schema.Class<ResourceStatus>("ResourceStatus")({
  /** Cores free for new jobs, or −1 when unknown. */
  freeSlots: Schema.Int,
  /** Jobs of this user running now. */
  userRun: Schema.NonNegativeInt,
  /** Jobs of this user waiting in a queue. */
  userQueued: Schema.NonNegativeInt,
  /** Jobs of every user waiting in a queue. */
  queued: Schema.NonNegativeInt,
  /** Jobs of every user running now. */
  totalRun: Schema.NonNegativeInt,
  /** Memory not reserved by running jobs, where the backend tracks it. */
  availableMemory: Schema.optional(Quantity.MemoryFromInput),
  /** Memory of the whole resource, where the backend tracks it. */
  totalMemory: Schema.optional(Quantity.MemoryFromInput),
  /** When the status was read. */
  updatedAt: Schema.Date,
}) {}
